"""Deterministic images: sizes, determinism, distinctness, and that each operation uses its inputs."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageStat

from mockmj.media.images import (
    blend,
    blurred_preview,
    crop_panel,
    describe,
    encode_png,
    encode_webp,
    inpaint,
    pan,
    panel_size,
    parse_aspect,
    render_grid,
    render_panel,
    shorten,
    swap_face,
    upscale,
    variation_grid,
    zoom_out,
)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute per-channel difference, 0..255: above ~10 is plainly visible."""
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (256, 256)) -> Image.Image:
    return Image.new("RGB", size, colour)


@pytest.fixture(scope="module")
def grid() -> Image.Image:
    return render_grid("task-1", (1, 1))


@pytest.fixture(scope="module")
def panel(grid: Image.Image) -> Image.Image:
    """A 512² picture: the pure image functions below are size-agnostic, and small is fast."""
    return crop_panel(grid, 2).resize((512, 512), Image.Resampling.BILINEAR)


@pytest.fixture(scope="module")
def variation(panel: Image.Image) -> Image.Image:
    """The panel's variation grid, made once for the tests that only look at it."""
    return variation_grid(panel, "v", 0.45)


# --- aspect ratios and sizes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat --ar 16:9", (16, 9)),
        ("a cat --ar 2:3 --v 6", (2, 3)),
        ("--aspect 3:2", (3, 2)),
        ("a cat --AR 4:3", (4, 3)),
        ("a cat —ar 3:4", (3, 4)),  # the em dash phones substitute for "--"
        ("a cat --ar 32:18", (16, 9)),  # reduced
        ("a cat --ar 10:1", (4, 1)),  # clamped
        ("a cat --ar 1:9", (1, 4)),
        ("--ar 1:2 then --ar 3:2", (3, 2)),  # the last one wins
        ("a cat", (1, 1)),
        ("", (1, 1)),
        (None, (1, 1)),
    ],
)
def test_parse_aspect_reads_ar(prompt: str | None, expected: tuple[int, int]) -> None:
    assert parse_aspect(prompt) == expected


@pytest.mark.parametrize(
    "prompt",
    [
        "--ar foo",
        "--ar 16:",
        "--ar 0:1",
        "--ar 16:0",
        "--ar -3:2",
        "--ar 1.5:1",
        "--ar 16:9:2",
        "x--ar 16:9",
        "--ar 9999999:1",
    ],
)
def test_parse_aspect_ignores_garbage(prompt: str) -> None:
    assert parse_aspect(prompt) == (1, 1)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parse_aspect_always_answers_a_reduced_ratio_within_limits(suffix: str) -> None:
    width, height = parse_aspect("a cat --ar " + suffix)
    assert Fraction(1, 4) <= Fraction(width, height) <= 4
    assert Fraction(width, height).numerator == width


@pytest.mark.parametrize(
    ("aspect", "size"),
    [((1, 1), (1024, 1024)), ((2, 3), (896, 1344)), ((3, 2), (1344, 896)), ((16, 9), (1456, 816)),
     ((4, 6), (896, 1344)), ((4, 1), (2192, 544)), ((1, 4), (544, 2192))],
)
def test_panel_size_is_midjourneys_cell_size(aspect: tuple[int, int], size: tuple[int, int]) -> None:
    assert panel_size(aspect) == size
    assert all(side % 16 == 0 for side in size)


def test_panel_size_of_an_unlisted_ratio_keeps_the_pixel_count_of_a_2_3_cell() -> None:
    width, height = panel_size((5, 4))
    assert abs(width * height - 896 * 1344) / (896 * 1344) < 0.03
    assert abs(width / height - 5 / 4) < 0.03


def test_panel_size_refuses_a_degenerate_aspect() -> None:
    with pytest.raises(ValueError):
        panel_size((0, 1))


@pytest.mark.parametrize(("aspect", "size"), [((1, 1), (2048, 2048)), ((16, 9), (2912, 1632)), ((2, 3), (1792, 2688))])
def test_grid_size_is_two_panels_each_way(aspect: tuple[int, int], size: tuple[int, int]) -> None:
    result = render_grid("seed", aspect)
    assert (result.mode, result.size) == ("RGB", size)
    assert abs(result.width / result.height - aspect[0] / aspect[1]) < 0.02


# --- determinism and distinctness ----------------------------------------------------------------


def test_same_inputs_give_byte_identical_png(grid: Image.Image) -> None:
    assert encode_png(render_grid("task-1", (1, 1))) == encode_png(grid)


def test_different_seeds_give_visibly_different_grids(grid: Image.Image) -> None:
    assert mean_difference(render_grid("task-2", (1, 1)), grid) > 10


def test_the_four_panels_differ_from_each_other(grid: Image.Image) -> None:
    panels = [crop_panel(grid, index) for index in range(1, 5)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert mean_difference(panels[i], panels[j]) > 5, (i + 1, j + 1)


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_render_panel_is_the_grid_quarter(grid: Image.Image, index: int) -> None:
    assert render_panel("task-1", (1, 1), index).tobytes() == crop_panel(grid, index).tobytes()


def test_every_operation_is_deterministic(panel: Image.Image, variation: Image.Image) -> None:
    mask = Image.new("L", panel.size, 0)
    mask.paste(255, (100, 100, 300, 300))
    other = render_panel("other", (1, 1), 3)
    operations = [
        lambda: upscale(panel),
        lambda: zoom_out(panel, 1.5, "z"),
        lambda: pan(panel, "left", "p"),
        lambda: blend([panel, other], (3, 2), "b"),
        lambda: inpaint(panel, mask, "i"),
        lambda: swap_face(other, panel, "s"),
        lambda: blurred_preview(panel, 40),
    ]
    for operation in operations:
        assert encode_png(operation()) == encode_png(operation())
    assert encode_png(variation_grid(panel, "v", 0.45)) == encode_png(variation)  # made earlier, by the fixture
    assert describe(panel, "d") == describe(panel, "d")
    assert shorten("a red fox in the snow --ar 3:2", "s") == shorten("a red fox in the snow --ar 3:2", "s")


# --- crop and upscale ----------------------------------------------------------------------------


def test_crop_panel_takes_the_numbered_quarter() -> None:
    quarters = Image.new("RGB", (200, 100))
    for index, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]):
        quarters.paste(colour, (index % 2 * 100, index // 2 * 50, index % 2 * 100 + 100, index // 2 * 50 + 50))
    assert [crop_panel(quarters, index).getpixel((50, 25)) for index in range(1, 5)] == [
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (255, 255, 0),
    ]
    assert crop_panel(quarters, 4).size == (100, 50)


@pytest.mark.parametrize("index", [0, 5, -1, True])
def test_crop_panel_refuses_a_bad_index(grid: Image.Image, index: int) -> None:
    with pytest.raises(ValueError):
        crop_panel(grid, index)


def test_upscale_doubles_and_caps_at_4096() -> None:
    assert upscale(solid((1, 2, 3), (512, 288))).size == (1024, 576)
    assert upscale(solid((1, 2, 3), (1024, 768)), 4.0).size == (4096, 3072)
    assert upscale(solid((1, 2, 3), (5000, 1000)), 1.0).size == (4096, 819)


def test_upscale_refuses_a_non_positive_factor() -> None:
    with pytest.raises(ValueError):
        upscale(solid((1, 2, 3)), 0)


# --- variations ----------------------------------------------------------------------------------


def test_variation_grid_has_the_grid_size_of_the_panel_aspect(variation: Image.Image) -> None:
    assert variation.size == (2048, 2048)
    wide = render_panel("wide", (16, 9), 1)
    assert variation_grid(wide, "v", 0.45).size == (2912, 1632)
    assert variation_grid(upscale(wide), "v", 0.45).size == (2912, 1632)  # from an upscaled image


def test_variations_resemble_the_source_more_when_subtle(panel: Image.Image) -> None:
    def distance(strength: float) -> float:
        result = variation_grid(panel, "v", strength)
        return sum(mean_difference(crop_panel(result, i).resize(panel.size), panel) for i in range(1, 5)) / 4

    subtle, strong = distance(0.25), distance(0.6)
    assert 0 < subtle < strong
    unrelated = mean_difference(render_panel("elsewhere", (1, 1), 1).resize(panel.size), panel)
    assert subtle < unrelated


def test_variation_panels_differ_and_depend_on_the_seed(panel: Image.Image, variation: Image.Image) -> None:
    panels = [crop_panel(variation, i) for i in range(1, 5)]
    assert all(mean_difference(panels[i], panels[j]) > 2 for i in range(4) for j in range(i + 1, 4))
    assert mean_difference(variation_grid(panel, "w", 0.45), variation) > 2


# --- zoom and pan --------------------------------------------------------------------------------


def test_zoom_out_keeps_the_size_and_puts_the_shrunk_original_in_the_centre(panel: Image.Image) -> None:
    result = zoom_out(panel, 2.0, "z")
    assert result.size == panel.size
    inner = (256, 256)
    shrunk = panel.resize(inner, Image.Resampling.LANCZOS)
    assert result.crop((128, 128, 384, 384)).tobytes() == shrunk.tobytes()
    assert mean_difference(result.crop((128, 128, 384, 384)), panel.crop((128, 128, 384, 384))) > 5


def test_zoom_out_border_is_generated_from_the_edges(panel: Image.Image) -> None:
    result = zoom_out(panel, 1.5, "z")
    left = (panel.width - round(panel.width / 1.5)) // 2
    border = result.crop((0, 0, left, panel.height))
    # Generated, not blank: the border has structure and differs from what the original had there.
    assert ImageStat.Stat(border.convert("L")).stddev[0] > 3
    assert mean_difference(border, panel.crop((0, 0, left, panel.height))) > 3
    # Continuous: just outside the seam looks like just inside it.
    outside = result.crop((left - 4, 0, left - 1, panel.height))
    inside = result.crop((left, 0, left + 3, panel.height))
    assert mean_difference(outside, inside) < 40
    assert mean_difference(zoom_out(panel, 1.5, "other"), result) > 0


def test_zoom_out_by_one_changes_nothing_and_refuses_out_of_range(panel: Image.Image) -> None:
    assert zoom_out(panel, 1.0, "z").tobytes() == panel.tobytes()
    for factor in (0.5, 2.5, float("nan")):
        with pytest.raises(ValueError):
            zoom_out(panel, factor, "z")


@pytest.mark.parametrize(
    ("direction", "size", "kept_at"),
    [
        ("left", (768, 512), (256, 0)),
        ("right", (768, 512), (0, 0)),
        ("up", (512, 768), (0, 256)),
        ("down", (512, 768), (0, 0)),
    ],
)
def test_pan_extends_by_half_and_keeps_the_original(
    panel: Image.Image, direction: str, size: tuple[int, int], kept_at: tuple[int, int]
) -> None:
    result = pan(panel, direction, "p")
    assert result.size == size
    x, y = kept_at
    assert result.crop((x, y, x + 512, y + 512)).tobytes() == panel.tobytes()
    new_strip = {
        "left": (0, 0, 256, 512),
        "right": (512, 0, 768, 512),
        "up": (0, 0, 512, 256),
        "down": (0, 512, 512, 768),
    }[direction]
    assert ImageStat.Stat(result.crop(new_strip).convert("L")).stddev[0] > 3


def test_pan_refuses_an_unknown_direction(panel: Image.Image) -> None:
    with pytest.raises(ValueError):
        pan(panel, "sideways", "p")


# --- blend, inpaint, swap ------------------------------------------------------------------------


def test_blend_is_a_grid_of_the_requested_aspect(panel: Image.Image) -> None:
    other = render_panel("other", (1, 1), 1)
    assert blend([panel, other], (1, 1), "b").size == (2048, 2048)
    assert blend([panel, other, panel], (2, 3), "b").size == (1792, 2688)


def test_blend_is_really_made_of_its_inputs() -> None:
    red, blue = solid((255, 0, 0)), solid((0, 0, 255), (300, 100))
    result = blend([red, blue], (1, 1), "b")
    mix = crop_panel(result, 1).getpixel((256, 256))
    assert isinstance(mix, tuple)
    assert mix[0] > 20 and mix[2] > 20 and mix[1] < 10  # red and blue, nothing else


def test_changing_any_input_changes_the_blend(panel: Image.Image) -> None:
    inputs = [panel, render_panel("b", (1, 1), 2), render_panel("c", (1, 1), 3)]
    base = blend(inputs, (1, 1), "b")
    for position in range(3):
        changed = list(inputs)
        changed[position] = render_panel("replacement", (1, 1), 4)
        altered = blend(changed, (1, 1), "b")
        for index in range(1, 5):
            assert mean_difference(crop_panel(altered, index), crop_panel(base, index)) > 1, (position, index)


def test_blend_panels_differ(panel: Image.Image) -> None:
    result = blend([panel, render_panel("b", (1, 1), 2)], (1, 1), "b")
    panels = [crop_panel(result, i) for i in range(1, 5)]
    assert all(mean_difference(panels[i], panels[j]) > 1 for i in range(4) for j in range(i + 1, 4))


def test_inpaint_changes_exactly_the_masked_pixels(panel: Image.Image) -> None:
    mask = Image.new("L", panel.size, 0)
    mask.paste(255, (100, 150, 300, 250))
    mask.paste(128, (400, 400, 410, 410))  # just over half: selected too
    mask.paste(127, (0, 400, 10, 410))  # just under: not selected
    result = inpaint(panel, mask, "i")
    r, g, b = ImageChops.difference(result, panel).split()
    any_channel = ImageChops.lighter(ImageChops.lighter(r, g), b).point(lambda v: 255 if v else 0)
    selected = mask.point(lambda v: 255 if v > 127 else 0)
    assert any_channel.tobytes() == selected.tobytes()


def test_inpaint_resizes_a_mask_of_another_size_and_ignores_an_empty_one(panel: Image.Image) -> None:
    small = Image.new("L", (64, 64), 0)
    small.paste(255, (0, 0, 32, 32))
    result = inpaint(panel, small, "i")
    assert result.crop((256, 256, 512, 512)).tobytes() == panel.crop((256, 256, 512, 512)).tobytes()
    assert mean_difference(result.crop((0, 0, 256, 256)), panel.crop((0, 0, 256, 256))) > 5
    assert inpaint(panel, Image.new("L", (8, 8), 0), "i").tobytes() == panel.tobytes()


def centre(image: Image.Image) -> Image.Image:
    """A box well inside the face ellipse, wherever the seed puts it."""
    w, h = image.size
    return image.crop((round(w * 0.42), round(h * 0.38), round(w * 0.58), round(h * 0.5)))


def test_swap_face_depends_on_both_images_and_keeps_the_target_size(panel: Image.Image) -> None:
    face, other_face = render_panel("face", (1, 1), 1), render_panel("face-2", (1, 1), 4)
    target = render_panel("target", (2, 3), 2)
    result = swap_face(face, target, "s")
    assert result.size == target.size
    assert mean_difference(centre(result), centre(target)) > 5
    assert mean_difference(centre(swap_face(other_face, target, "s")), centre(result)) > 5
    other_target = render_panel("target-2", (2, 3), 3)
    assert mean_difference(centre(swap_face(face, other_target, "s")), centre(result)) > 2
    # Outside the ellipse the target is untouched.
    assert result.crop((0, 0, 20, 20)).tobytes() == target.crop((0, 0, 20, 20)).tobytes()


def test_swap_face_caps_the_result_at_2048() -> None:
    assert swap_face(solid((9, 9, 9)), solid((200, 100, 50), (4096, 3072)), "s").size == (2048, 1536)


# --- describe and shorten ------------------------------------------------------------------------


def test_describe_gives_four_different_prompts_ending_with_the_aspect() -> None:
    prompts = describe(solid((30, 140, 200), (1024, 768)), "d")
    assert len(prompts) == 4 and len(set(prompts)) == 4
    assert all(prompt.endswith(" --ar 4:3") for prompt in prompts)


@pytest.mark.parametrize(
    ("size", "ar"), [((640, 360), "16:9"), ((344, 512), "2:3"), ((512, 512), "1:1"), ((1023, 767), "4:3")]
)
def test_describe_names_the_reduced_aspect(size: tuple[int, int], ar: str) -> None:
    assert all(prompt.endswith(f" --ar {ar}") for prompt in describe(solid((90, 90, 90), size), "d"))


def test_describe_names_the_real_colours() -> None:
    crimson = " ".join(describe(solid((220, 20, 60)), "d"))
    teal = " ".join(describe(solid((0, 128, 128)), "d"))
    assert "crimson" in crimson and "teal" not in crimson
    assert "teal" in teal and "crimson" not in teal


def test_describe_reads_brightness() -> None:
    assert "dark" in describe(solid((10, 10, 30)), "d")[0]
    assert "luminous" in describe(solid((250, 250, 245)), "d")[0]


def test_different_images_get_different_prompts(grid: Image.Image) -> None:
    red, blue = describe(solid((200, 30, 30)), "d"), describe(solid((30, 30, 200)), "d")
    assert set(red).isdisjoint(blue)
    small, large = describe(solid((200, 30, 30), (512, 512)), "d"), describe(solid((200, 30, 30), (768, 768)), "d")
    assert small != large
    assert describe(crop_panel(grid, 1), "d") != describe(crop_panel(grid, 2), "d")


def test_shorten_drops_filler_then_parameters_then_words() -> None:
    prompt = (
        "a beautiful portrait of an old fisherman with a red hat, in the style of rembrandt, highly detailed"
        " --ar 2:3 --v 6"
    )
    important, prompts = shorten(prompt, "s")
    assert len(prompts) == 5
    assert prompts[0].endswith("--ar 2:3 --v 6")
    assert not any(word in prompts[0].split() for word in ("a", "of", "an", "the"))
    assert all("--" not in p for p in prompts[1:])
    assert "beautiful" not in prompts[1] and "highly" not in prompts[1]
    lengths = [len(p.replace(",", "").split()) for p in prompts[1:]]
    assert lengths == sorted(lengths, reverse=True) and lengths[0] > lengths[-1]
    assert important and all(token in prompt.lower() for token in important)
    assert prompts[4] == " ".join(important)
    assert "fisherman" in important


def test_shorten_handles_empty_and_filler_only_prompts() -> None:
    assert shorten("", "s") == ([], [""] * 5)
    important, prompts = shorten("the of a", "s")
    assert important and all(prompts)


# --- encoding and previews -----------------------------------------------------------------------


def test_encode_png_decodes_back_to_the_same_pixels(grid: Image.Image) -> None:
    data = encode_png(grid)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.format == "PNG"
        assert decoded.convert("RGB").tobytes() == grid.tobytes()


def test_encode_webp_decodes_back(grid: Image.Image) -> None:
    with Image.open(io.BytesIO(encode_webp(grid))) as decoded:
        assert (decoded.format, decoded.size) == ("WEBP", grid.size)
        assert mean_difference(decoded, grid) < 8


def test_blurred_preview_sharpens_with_progress(grid: Image.Image) -> None:
    previews = [blurred_preview(grid, progress) for progress in (0, 25, 50, 75, 100)]
    assert all(preview.size == grid.size for preview in previews)
    distances = [mean_difference(preview, grid) for preview in previews]
    assert distances == sorted(distances, reverse=True)
    assert distances[0] > 8 and distances[-1] == 0


def test_blurred_preview_clamps_progress(panel: Image.Image) -> None:
    assert blurred_preview(panel, 250).tobytes() == panel.tobytes()
    assert blurred_preview(panel, -5).tobytes() == blurred_preview(panel, 0).tobytes()


# --- robustness ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "CMYK", "1"])
def test_inputs_in_any_mode_give_rgb_results(mode: str) -> None:
    source = render_panel("m", (1, 1), 1).convert(mode)
    for result in (upscale(source), zoom_out(source, 1.5, "z"), pan(source, "up", "p"), blurred_preview(source, 10)):
        assert result.mode == "RGB"
    assert describe(source, "d")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64))
def test_tiny_images_do_not_break_anything(width: int, height: int) -> None:
    source = solid((120, 60, 30), (width, height))
    assert zoom_out(source, 2.0, "z").size == (width, height)
    assert pan(source, "right", "p").size == (width + width // 2, height)
    assert swap_face(source, source, "s").size == (width, height)
    assert len(describe(source, "d")) == 4
    assert blurred_preview(source, 0).size == (width, height)


def test_a_variation_of_a_tiny_image_is_a_grid_of_cells_of_its_aspect() -> None:
    source = solid((120, 60, 30), (3, 7))
    assert variation_grid(source, "v", 0.5).size == tuple(2 * side for side in panel_size((3, 7)))
