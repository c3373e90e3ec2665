from __future__ import annotations

import factory

from apps.accounts.models import ApiToken, User
from apps.accounts.tokens import token_generate, token_hash
from apps.projects.models import Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda p: p.slug.title())


def make_token(user, *, project=None, role=None, name="test", expires_at=None) -> str:
    """Create a token row directly and return its secret (tests of the token
    service itself go through ``token_create``)."""
    secret = token_generate()
    ApiToken.objects.create(
        user=user,
        name=name,
        kind="service" if project is not None else "personal",
        project=project,
        role=int(role) if role is not None else None,
        prefix=secret[:12],
        token_hash=token_hash(secret),
        expires_at=expires_at,
    )
    return secret
