"""PNG preview of a label: the printed layout drawn at thermal-printer scale (203 dpi, font A).

The counter page shows this instead of (or before) a real print, so it must look like the roll:
one 12 x 24 dot cell per character, bold, centring and double height as the printer does them,
and a CODE128 that a scanner can read off the screen. Characters are placed cell by cell, so
the preview is monospace whatever font is available.
"""

from __future__ import annotations

import functools
import logging
from importlib import resources
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from devices.labels import Label, layout

log = logging.getLogger("devices.preview")

CELL_WIDTH: Final = 12  # dots, ESC/POS font A at 203 dpi
CELL_HEIGHT: Final = 24
LINE_HEIGHT: Final = 30  # ESC 2 default line spacing: 3.75 mm
MARGIN: Final = 12
BARCODE_MODULE: Final = 2  # dots per module, as sent to the printer (GS w 2)
BARCODE_HEIGHT: Final = 64

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def _font() -> Font:
    """DejaVu Sans Mono if the system or python-barcode has it, else Pillow's built-in font."""
    size = 20
    try:
        return ImageFont.truetype("DejaVuSansMono.ttf", size)
    except OSError:
        pass
    try:
        bundled = resources.files("barcode") / "fonts" / "DejaVuSansMono.ttf"
        with resources.as_file(bundled) as path:
            return ImageFont.truetype(str(path), size)
    except (ModuleNotFoundError, OSError):
        pass
    log.debug("no monospace TrueType font found; using Pillow's default font")
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no size argument
        return ImageFont.load_default()


def _text_line(text: str, columns: int, *, bold: bool, centre: bool) -> Image.Image:
    image = Image.new("L", (columns * CELL_WIDTH, CELL_HEIGHT), 255)
    draw = ImageDraw.Draw(image)
    font = _font()
    start = (columns - len(text)) // 2 if centre else 0
    for index, char in enumerate(text):
        x = (start + index) * CELL_WIDTH
        draw.text((x + 1, 1), char, fill=0, font=font)
        if bold:  # emphasised mode on a thermal head prints each dot column twice
            draw.text((x + 2, 1), char, fill=0, font=font)
    return image


def _barcode(payload: str) -> Image.Image | None:
    try:
        import barcode
        from barcode.writer import ImageWriter
    except ModuleNotFoundError:  # python-barcode comes with python-escpos; tolerate its absence
        return None
    symbol = barcode.get("code128", payload, writer=ImageWriter(mode="L", dpi=203))
    image: Image.Image = symbol.render(
        writer_options={
            "module_width": BARCODE_MODULE * 25.4 / 203,
            "module_height": BARCODE_HEIGHT * 25.4 / 203,
            "quiet_zone": 10 * BARCODE_MODULE * 25.4 / 203,
            "font_size": 0,
            "write_text": False,
            "background": "white",
            "foreground": "black",
        }
    )
    return image.convert("L")


def render_png(label: Label) -> Image.Image:
    """The label as a 1-bit-looking greyscale image, `columns` x 12 dots wide plus margins."""
    width = label.columns * CELL_WIDTH
    parts: list[Image.Image] = []
    for row in layout(label):
        line = _text_line(row.text, label.columns, bold=row.bold, centre=row.centre)
        if row.double_height:
            line = line.resize((line.width, line.height * 2), Image.Resampling.NEAREST)
        framed = Image.new("L", (width, max(LINE_HEIGHT, line.height + 6)), 255)
        framed.paste(line, (0, 0))
        parts.append(framed)
    if label.barcode is not None:
        symbol = _barcode(label.barcode)
        if symbol is not None:
            if symbol.width > width:
                symbol = symbol.resize((width, symbol.height), Image.Resampling.NEAREST)
            block = Image.new("L", (width, symbol.height + 4), 255)
            block.paste(symbol, ((width - symbol.width) // 2, 2))
            parts.append(block)
        caption = _text_line(label.barcode, label.columns, bold=False, centre=True)
        parts.append(caption)
    height = sum(part.height for part in parts) + 2 * MARGIN
    page = Image.new("L", (width + 2 * MARGIN, height), 255)
    top = MARGIN
    for part in parts:
        page.paste(part, (MARGIN, top))
        top += part.height
    return page
