"""The demo catalog's pictures: one small PNG per subcategory, drawn with Pillow."""

import io

from PIL import Image, ImageDraw, ImageFont

IMAGE_SIZE = 480


def draw_picture(*, label: str, colour: str) -> bytes:
    """Return a small PNG: a soft gradient in `colour`, a rounded card, and `label`."""
    base = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    draw = ImageDraw.Draw(image)
    for y in range(IMAGE_SIZE):
        draw.line([(0, y), (IMAGE_SIZE, y)], fill=_tint(base, 0.82 - 0.4 * y / IMAGE_SIZE))
    draw.rounded_rectangle((70, 60, 410, 330), radius=56, fill=_tint(base, 0.93))
    draw.ellipse((170, 95, 310, 235), fill=base)
    draw.rounded_rectangle((150, 250, 330, 285), radius=18, fill=_tint(base, 0.55))
    size = 40
    font = ImageFont.load_default(size=size)
    while draw.textlength(label, font=font) > IMAGE_SIZE - 60:
        size -= 2
        font = ImageFont.load_default(size=size)
    draw.text((IMAGE_SIZE / 2, 400), label, font=font, fill=_shade(base, 0.45), anchor="mm")
    output = io.BytesIO()
    image.quantize(colors=64).save(output, format="PNG", optimize=True)
    return output.getvalue()


def _tint(colour: tuple[int, ...], amount: float) -> tuple[int, ...]:
    return tuple(round(channel + (255 - channel) * amount) for channel in colour)


def _shade(colour: tuple[int, ...], amount: float) -> tuple[int, ...]:
    return tuple(round(channel * amount) for channel in colour)
