"""The explorer page driven in headless Chromium, as a person would use it, checked against
PyTorch: hover, click on an empty region, sliders, walks, dragged paths, the class legend,
and two runs side by side."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab.explore.page import build_pages, render
from aelab.explore.page_data import ExploreOptions
from tests.explore.browser import floats, open_page
from tests.explore.conftest import needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium]
TOLERANCE = 1e-5  # decoded pixel values in [0, 1], page against PyTorch (float32 rounding)


@pytest.fixture(scope="module")
def single(explore_runs, tmp_path_factory):
    """The 6-D run on a PCA map, open in Chromium."""
    yield from opened([explore_runs["vector"]], tmp_path_factory.mktemp("single") / "page.html")


@pytest.fixture(scope="module")
def pair(explore_runs, tmp_path_factory):
    """The 6-D run (PCA map) beside the 2-D one (its code)."""
    yield from opened([explore_runs["vector"], explore_runs["plane"]], tmp_path_factory.mktemp("pair") / "page.html")


def opened(run_dirs, path):
    pages = build_pages(run_dirs, ExploreOptions())
    path.write_text(render(pages))
    with open_page(path.as_uri()) as browser:
        browser.settle()
        yield browser, pages
        assert browser.errors == []


def decode(page, codes) -> torch.Tensor:
    """PyTorch's images for flat codes: (N, C*H*W), clamped to [0, 1] as the page shows them."""
    return page.ctx.decode(torch.as_tensor(np.asarray(codes), dtype=torch.float32)).flatten(1)


def canvas_pixels(browser, expression: str) -> np.ndarray:
    """The red channel of a canvas: the grey image as it is drawn, 0..255."""
    data = browser.js(f"(() => {{ const c = {expression}; return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }})()")
    return np.asarray(data)[0::4]


def screen_point(browser, run: int, index: int) -> tuple[float, float]:
    """Page coordinates of a map point, rounded as mouse events land: on whole pixels."""
    return tuple(browser.js(f"(() => {{ const m = aelab.runs[{run}].map, r = m.canvas.getBoundingClientRect(); "
                            f"return [Math.round(r.left + m.pixels[{2 * index}]), Math.round(r.top + m.pixels[{2 * index + 1}])]; }})()"))


def isolated_point(browser, run: int = 0) -> int:
    """A map point that is the one found when the mouse is on its (rounded) position: no other on top."""
    n = browser.js(f"aelab.runs[{run}].n")
    return next(i for i in range(n) if browser.js(f"(() => {{ const m = aelab.runs[{run}].map, r = m.canvas.getBoundingClientRect(); "
                                                  f"return m.pointAt(Math.round(r.left + m.pixels[{2 * i}]) - r.left, "
                                                  f"Math.round(r.top + m.pixels[{2 * i + 1}]) - r.top, new Set()); }})()") == i)


def empty_spot(browser, run: int = 0) -> tuple[float, float]:
    """Page coordinates of a spot on the map at least 30 pixels from every point."""
    xy = np.asarray(floats(browser.js(f"aelab.runs[{run}].map.pixels"))).reshape(-1, 2)
    left, top, width, height = browser.js(f"(() => {{ const r = aelab.runs[{run}].map.canvas.getBoundingClientRect(); "
                                          "return [r.left, r.top, r.width, r.height]; })()")
    grid = np.stack(np.meshgrid(np.arange(20, width - 20, 10), np.arange(20, height - 20, 10)), -1).reshape(-1, 2)
    distance = np.sqrt(((grid[:, None] - xy[None]) ** 2).sum(-1)).min(1)
    spot = grid[np.argmax(distance)]
    assert distance.max() > 30
    return float(round(left + spot[0])), float(round(top + spot[1]))  # mouse events land on whole pixels


def test_hover_shows_the_image_and_its_reconstruction(single):
    browser, (page,) = single
    i = isolated_point(browser)
    browser.mouse("mouseMoved", *screen_point(browser, 0, i))
    browser.settle()
    assert browser.js("aelab.state.hover") == i
    shown = canvas_pixels(browser, "aelab.runs[0].ui.hoverInput")
    assert np.array_equal(shown, page.points.images[i].flatten().numpy())
    reconstruction = page.ctx.reconstruct(page.points.images[i : i + 1].float().div(255)).flatten()
    assert np.abs(np.asarray(floats(browser.js("aelab.state.lastHover[0]"))) - reconstruction.numpy()).max() <= TOLERANCE
    drawn = canvas_pixels(browser, "aelab.runs[0].ui.hoverRecon")
    assert np.abs(drawn - np.round(reconstruction.numpy() * 255)).max() <= 1


def test_a_click_on_an_empty_region_decodes_its_pca_inverse(single):
    browser, (page,) = single
    x, y = empty_spot(browser)
    browser.click(x, y)
    browser.settle()
    position = browser.js(f"(() => {{ const m = aelab.runs[0].map, r = m.canvas.getBoundingClientRect(); "
                                      f"return m.toData({x} - r.left, {y} - r.top); }})()")
    code = page.pca.inverse_transform(np.asarray([position]))[0]  # sklearn's inverse, not the page's arithmetic
    current = np.asarray(floats(browser.js("aelab.runs[0].current")))
    assert np.abs(current - code).max() <= 1e-5 * np.abs(code).max()  # the page holds PCA in float32
    expected = decode(page, current[None])[0].numpy()
    assert np.abs(np.asarray(floats(browser.js("aelab.state.lastDecoded[0]"))) - expected).max() <= 1e-4
    assert np.abs(canvas_pixels(browser, "aelab.runs[0].ui.decoded") - np.round(expected * 255)).max() <= 1


def test_a_click_on_a_point_takes_its_own_code(single):
    browser, (page,) = single
    i = isolated_point(browser)
    browser.click(*screen_point(browser, 0, i))
    browser.settle()
    assert np.allclose(floats(browser.js("aelab.runs[0].current")), page.codes[i])
    nearest = browser.js("aelab.state.nearestTraining[0]")
    distances = ((page.train_codes - page.codes[i]) ** 2).sum(1)
    assert nearest[0] == int(np.argmin(distances))


def test_a_slider_changes_the_image(single):
    browser, (page,) = single
    before = np.asarray(floats(browser.js("aelab.state.lastDecoded[0]")))
    dim = int(np.argmax(page.dim_score))  # the first slider: the dimension of largest variance
    assert browser.js("Number(document.querySelector('.sliders input').dataset.dim)") == dim
    browser.js("(() => { const s = document.querySelector('.sliders input'); s.value = s.max; s.dispatchEvent(new Event('input')); })()")
    browser.settle()
    code = np.asarray(floats(browser.js("aelab.runs[0].current")))
    assert code[dim] == pytest.approx(float(browser.js("document.querySelector('.sliders input').value")), abs=1e-4)
    after = np.asarray(floats(browser.js("aelab.state.lastDecoded[0]")))
    assert np.abs(after - before).max() > 0.01
    assert np.abs(after - decode(page, code[None])[0].numpy()).max() <= 1e-4


def test_the_walk_between_two_classes_ends_at_their_mean_images(single):
    browser, (page,) = single
    browser.js("(() => { document.getElementById('walk-start').value = 'class:0'; document.getElementById('walk-end').value = 'class:3'; "
               "document.getElementById('walk-mode').value = 'linear'; return drawWalk(); })()")
    strip = np.asarray([floats(image) for image in browser.js("aelab.state.walkImages[0]")])
    labels = page.points.labels.numpy()
    ends = decode(page, np.stack([page.codes[labels == 0].mean(0), page.codes[labels == 3].mean(0)])).numpy()
    assert np.abs(strip[0] - ends[0]).max() <= 1e-4 and np.abs(strip[-1] - ends[1]).max() <= 1e-4
    assert np.abs(ends[0] - ends[1]).max() > 0.1  # the two ends are different images


def test_spherical_interpolation_keeps_the_norm_between_orthogonal_codes(single):
    browser, _ = single
    halfway = floats(browser.js("aelab.interpolate(Float32Array.of(1, 0), Float32Array.of(0, 1), 0.5, true)"))
    assert halfway == pytest.approx([2**-0.5, 2**-0.5], abs=1e-6)
    linear = floats(browser.js("aelab.interpolate(Float32Array.of(1, 0), Float32Array.of(0, 1), 0.5, false)"))
    assert linear == pytest.approx([0.5, 0.5])


def test_a_dragged_path_is_decoded_along_its_length(single):
    browser, (page,) = single
    (x0, y0), (x1, y1) = screen_point(browser, 0, 0), empty_spot(browser)
    browser.mouse("mouseMoved", x0, y0)
    browser.mouse("mousePressed", x0, y0, "left")
    for t in np.linspace(0, 1, 6)[1:]:
        browser.tools.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x0 + t * (x1 - x0), "y": y0 + t * (y1 - y0),
                                                        "button": "left", "buttons": 1}, browser.session)
    browser.mouse("mouseReleased", x1, y1, "left")
    browser.settle()
    images = browser.js("aelab.state.pathImages[0]")
    assert len(images) == 8
    last = browser.js(f"(() => {{ const m = aelab.runs[0].map, r = m.canvas.getBoundingClientRect(); return m.toData({x1} - r.left, {y1} - r.top); }})()")
    expected = decode(page, page.pca.inverse_transform(np.asarray([last])))[0].numpy()
    assert np.abs(np.asarray(floats(images[-1])) - expected).max() <= 1e-3  # PCA held in float32 (see above)


def test_the_legend_hides_a_class_from_the_map(single):
    browser, (page,) = single
    i = isolated_point(browser)
    label = int(page.points.labels[i])
    toggle = f"document.querySelector('.class-toggle[data-label=\"{label}\"]').click()"
    browser.js(toggle)
    try:
        browser.mouse("mouseMoved", *screen_point(browser, 0, i))
        browser.settle()
        hovered = browser.js("aelab.state.hover")
        assert hovered != i and (hovered < 0 or int(page.points.labels[hovered]) != label)
    finally:
        browser.js(toggle)


def test_two_runs_show_the_same_image_and_decode_the_same_neighbourhood(pair):
    browser, (vector, plane) = pair
    i = isolated_point(browser, 0)
    browser.mouse("mouseMoved", *screen_point(browser, 0, i))
    browser.settle()
    assert np.array_equal(canvas_pixels(browser, "aelab.runs[1].ui.hoverInput"), plane.points.images[i].flatten().numpy())
    x, y = empty_spot(browser, 0)
    browser.click(x, y)
    browser.settle()
    position = np.asarray(browser.js(f"(() => {{ const m = aelab.runs[0].map, r = m.canvas.getBoundingClientRect(); "
                                      f"return m.toData({x} - r.left, {y} - r.top); }})()"))
    near = np.argsort(((vector.xy - position) ** 2).sum(1), kind="stable")[:10]  # the page's rule for the other run
    expected = decode(plane, plane.codes[near].mean(0)[None])[0].numpy()
    assert np.abs(np.asarray(floats(browser.js("aelab.state.lastDecoded[1]"))) - expected).max() <= 1e-4


def test_a_tsne_map_decodes_a_position_as_the_mean_code_of_its_nearest_points(explore_runs, tmp_path):
    pages = build_pages([explore_runs["vector"]], ExploreOptions(map="tsne"))
    (tmp_path / "tsne.html").write_text(render(pages))
    with open_page((tmp_path / "tsne.html").as_uri()) as browser:
        browser.settle()
        x, y = empty_spot(browser)
        browser.click(x, y)
        browser.settle()
        position = np.asarray(browser.js(f"(() => {{ const m = aelab.runs[0].map, r = m.canvas.getBoundingClientRect(); "
                                      f"return m.toData({x} - r.left, {y} - r.top); }})()"))
        near = np.argsort(((pages[0].xy - position) ** 2).sum(1), kind="stable")[:10]
        assert np.abs(np.asarray(floats(browser.js("aelab.runs[0].current"))) - pages[0].codes[near].mean(0)).max() < 1e-5
        assert browser.errors == []


def test_a_vae_page_orders_sliders_by_kl_walks_spherically_and_decodes_as_pytorch(explore_runs, tmp_path):
    (page,) = build_pages([explore_runs["vae"]], ExploreOptions())
    (tmp_path / "vae.html").write_text(render([page]))
    with open_page((tmp_path / "vae.html").as_uri()) as browser:
        browser.settle()
        assert "mean KL" in browser.js("document.querySelector('.panel h3').textContent")
        assert browser.js("document.getElementById('walk-mode').value") == "spherical"
        order = [int(d) for d in browser.js("Array.from(document.querySelectorAll('.sliders input')).map(s => s.dataset.dim)")]
        assert order == list(np.argsort(-page.dim_score, kind="stable"))
        x, y = empty_spot(browser)
        browser.click(x, y)
        browser.settle()
        current = np.asarray(floats(browser.js("aelab.runs[0].current")))
        assert np.abs(np.asarray(floats(browser.js("aelab.state.lastDecoded[0]"))) - decode(page, current[None])[0].numpy()).max() <= 1e-4
        assert browser.errors == []
