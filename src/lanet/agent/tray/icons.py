"""The tray icon in its four states (the seed's online, warning, offline, plus starting), drawn at
run time so no binary assets are needed."""

from PIL import Image, ImageDraw

COLOURS = {"online": "#2e7d32", "warning": "#f9a825", "offline": "#c62828", "starting": "#1565c0"}


def icon_image(state: str, size: int = 64) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 10, size - 4, size - 16), radius=6, fill="#263238")  # a screen
    draw.rectangle((size // 2 - 4, size - 16, size // 2 + 4, size - 8), fill="#263238")
    draw.rectangle((size // 4, size - 9, 3 * size // 4, size - 5), fill="#263238")
    dot = size // 3
    draw.ellipse(
        (size - dot - 2, 2, size - 2, dot + 2),
        fill=COLOURS.get(state, COLOURS["starting"]),
        outline="white",
        width=2,
    )
    return image
