"""What a person sees at a glance: the favicon (no 404 in the network log), the 記録
mark drawn as an SVG, the Search button in line with the filter box, column headers
that read as headers, inline and stacked form controls of matching widths, a project
made from its name, and one colour per run on the compare page."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import rendered_plot, sign_in_with_session

pytestmark = pytest.mark.browser

FG = "rgb(29, 35, 48)"  # --fg in kiroku.css


def box(locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not displayed"
    return found


def close(a: float, b: float, tolerance: float = 1.0) -> bool:
    return abs(a - b) <= tolerance


def test_pages_load_their_favicon_and_nothing_is_a_404(browser, live_server, member, new_run, shot):
    # A browser that has never seen the site (the shared context keeps icons it loaded).
    context = browser.new_context(base_url=live_server.url)
    sign_in_with_session(context, live_server.url, member)
    page = context.new_page()
    new_run(name="a", metrics=[("loss", 0, 1.0)])
    responses: list[tuple[str, int]] = []
    page.on("response", lambda response: responses.append((response.url, response.status)))
    for path in ("/projects", "/projects/vision", "/tokens", "/account"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    icons = [status for url, status in responses if url.endswith("/static/portal/favicon.svg")]
    assert icons and set(icons) == {200}
    assert [(url, status) for url, status in responses if status >= 400] == []
    # A client that asks for /favicon.ico on its own lands on the same icon.
    answer = page.request.get("/favicon.ico")
    assert (answer.status, answer.headers["content-type"]) == (200, "image/svg+xml")
    shot(page, "account")
    context.close()


def test_the_mark_is_an_svg_that_needs_no_font(page, shot):
    page.goto("/login")
    mark = page.locator("header.top .brand svg.mark")
    size = box(mark)
    assert size["width"] > 20 and size["height"] > 10
    # The outline is drawn: its path covers most of the mark's box.
    drawn = mark.locator("path").evaluate("path => path.getBBox().width * path.getBBox().height")
    assert drawn > 0.5 * 200 * 100 * 0.7
    assert page.locator("header.top .brand").inner_text().strip() == "Kiroku"
    assert page.locator("header.top .brand text").count() == 0
    shot(page, "sign-in")


def test_search_sits_in_line_with_the_filter_box(signed_in_page, new_run, shot):
    page = signed_in_page
    new_run(name="a", params={"lr": "0.1"}, metrics=[("loss", 0, 1.0)])
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/projects/vision")
        field = box(page.locator("#filter"))
        button = box(page.get_by_role("button", name="Search"))
        assert close(field["y"], button["y"]) and close(field["height"], button["height"])
        assert 0 <= button["x"] - (field["x"] + field["width"]) <= 12
        shot(page, f"runs-{width}")


def test_column_headers_read_as_headers(signed_in_page, new_run):
    page = signed_in_page
    new_run(name="a", params={"lr": "0.1"}, metrics=[("loss", 0, 1.0)])
    page.goto("/projects/vision")
    links = page.locator("#runs thead th[aria-sort] a")
    styles = links.evaluate_all(
        "links => links.map(a => getComputedStyle(a))"
        ".map(style => [style.textDecorationLine, style.color])"
    )
    assert len(styles) >= 5  # name, status, author, created, duration, and the columns
    assert set(map(tuple, styles)) == {("none", FG)}
    # The sorted column says so: newest first by default.
    created = page.locator('#runs thead th[aria-sort="descending"] a')
    assert created.evaluate("a => getComputedStyle(a, '::after').content") == '" ↓"'


def test_form_controls_match_in_width_and_line_up(signed_in_page, member, project, shot):
    from apps.projects.models import Membership, Role

    Membership.objects.filter(project=project, user=member).update(role=Role.ADMIN)
    page = signed_in_page
    page.goto("/projects")
    stacked = [box(page.locator(f"#{id_}")) for id_ in ("project-name", "project-slug")]
    stacked.append(box(page.locator("#project-description")))
    assert len({round(b["width"]) for b in stacked}) == 1
    page.goto("/projects/vision/settings")
    for form in ("member-add-title", "token-create-title"):
        controls = page.locator(f'form[aria-labelledby="{form}"] > div > :is(input, select)')
        boxes = [box(controls.nth(i)) for i in range(controls.count())]
        assert len(boxes) >= 2
        assert len({round(b["width"]) for b in boxes}) == 1, form
        assert all(close(b["y"], boxes[0]["y"]) for b in boxes), form
        assert all(close(b["height"], boxes[0]["height"]) for b in boxes), form
        button = box(page.locator(f'form[aria-labelledby="{form}"] > button'))
        assert close(button["y"], boxes[0]["y"]) and close(button["height"], boxes[0]["height"])
    name = box(page.locator("#project-name"))
    description = box(page.locator("#project-description"))
    assert close(name["width"], description["width"])
    shot(page, "settings")


def test_a_project_is_made_from_its_name(signed_in_page):
    page = signed_in_page
    page.get_by_label("Name", exact=True).fill("Speech Models (v2)")
    expect(page.get_by_label("Slug")).to_have_value("speech-models-v2")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/projects/speech-models-v2")


def test_a_typed_slug_is_not_overwritten_by_the_name(signed_in_page):
    page = signed_in_page
    page.get_by_label("Slug").fill("asr")
    page.get_by_label("Name", exact=True).fill("Speech")
    expect(page.get_by_label("Slug")).to_have_value("asr")


def rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i : i + 2], 16) for i in (0, 2, 4)))


def test_each_run_keeps_one_colour_on_the_compare_page(signed_in_page, new_run, shot):
    page = signed_in_page
    long_keys = [f"optimizer.schedule.warmup_{i}_steps_total" for i in range(6)]
    ids = [
        new_run(
            name=name,
            params={key: str(n * 10 + i) for i, key in enumerate(long_keys)},
            metrics=[("loss", s, (n + 1) / (s + 1)) for s in range(4)],
        )
        for n, name in enumerate(("a", "b", "c"))
    ]
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/projects/vision/compare?" + "&".join(f"runs={run}" for run in ids))
    data = page.locator("#compare-data").evaluate("node => JSON.parse(node.textContent)")
    colour = {run["label"]: run["color"] for run in data["runs"]}
    names = {run["id"]: run["label"] for run in data["runs"]}
    # The list of runs at the top.
    swatches = page.locator(".compare-runs li").evaluate_all(
        "items => items.map(li => [li.dataset.run,"
        " getComputedStyle(li.querySelector('.swatch')).backgroundColor])"
    )
    assert {names[run]: swatch for run, swatch in swatches} == {
        label: rgb(value) for label, value in colour.items()
    }
    # The overlays.
    overlay = rendered_plot(page.locator("#overlays"), "loss")
    traces = overlay.evaluate("el => el.data.map(t => [t.name, t.line.color])")
    assert dict(traces) == colour
    # The bars.
    page.locator("#summary-bars.rendered").wait_for()
    bars = page.locator("#summary-bars").evaluate(
        "el => el.data[0].x.map((x, i) => [x, el.data[0].marker.color[i]])"
    )
    assert dict(bars) == colour
    # The parallel coordinates: each line's value picks its run's stop on the scale.
    parallel = page.locator("#parallel.rendered")
    parallel.wait_for()
    line = parallel.evaluate("el => el.data[0].line")
    scale = {round(stop * line["cmax"]): value for stop, value in line["colorscale"]}
    assert [scale[index] for index in line["color"]] == [run["color"] for run in data["runs"]]
    assert line["showscale"] is False
    # Its axis labels do not overlap one another.
    titles = parallel.locator("text.axis-title")
    axes = titles.count()
    assert axes >= 4  # at 1440 px, the half-width plot holds several
    if axes < len(long_keys) + 1:
        expect(page.locator("#parallel-note")).to_have_text(
            f"Showing the first {axes - 1} of {len(long_keys)} differing parameters"
            " (a wider window shows more)."
        )
    boxes = [box(titles.nth(i)) for i in range(axes)]
    for first, second in itertools.combinations(boxes, 2):
        apart = (
            first["x"] + first["width"] <= second["x"] + 1
            or second["x"] + second["width"] <= first["x"] + 1
            or first["y"] + first["height"] <= second["y"] + 1
            or second["y"] + second["height"] <= first["y"] + 1
        )
        assert apart, (first, second)
    # The Save button sits beside its name field.
    name = box(page.locator("#comparison-name"))
    save = box(page.get_by_role("button", name="Save", exact=True))
    assert close(name["y"], save["y"]) and 0 <= save["x"] - (name["x"] + name["width"]) <= 12
    shot(page, "compare")
