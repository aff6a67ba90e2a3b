"""SynthCity's world: city styles and a procedural Manhattan-grid layout of box buildings.

A city is a grid of blocks separated by streets; each block's perimeter is lined with box
buildings whose façades (colour, floor height, window grid, shop band, sign, repaint year) are
drawn from the city's style.  Everything is a function of the style and the seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CityStyle:
    """What makes one city look different from another."""
    name: str
    palette: tuple  # base façade colours (RGB 0-1)
    height: tuple = (8.0, 30.0)  # building height range (m)
    floor_height: tuple = (3.0, 3.8)
    window_spacing: tuple = (2.2, 3.6)
    block: tuple = (70.0, 55.0)  # block size x, y (m)
    street_width: float = 16.0
    lot_width: tuple = (7.0, 18.0)
    lot_depth: float = 14.0
    shop_prob: float = 0.5
    sign_prob: float = 0.3
    repetitive: float = 0.2  # share of buildings that copy one of a few templates
    repaint_prob: float = 0.25  # chance a building is repainted in some capture year
    road_colour: tuple = (0.33, 0.33, 0.35)
    walk_colour: tuple = (0.62, 0.60, 0.56)


def _palette(*hexes):
    return tuple(tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)) for h in hexes)


WARM = _palette("c9a27e", "b5651d", "d8c3a5", "a0522d", "e0d2b4", "8b5a3c", "c2b280", "9c7a54")
PASTEL = _palette("f4e1d2", "d5e1df", "e3eaa7", "b5e7a0", "86af49", "f7cac9", "92a8d1", "ffefd5", "dec2cb")
CONCRETE = _palette("9e9e9e", "bdbdbd", "757575", "cfd8dc", "b0bec5", "8d8d8d", "d7ccc8", "a1887f")
BRICK = _palette("8e3b2e", "a54a36", "7b2d26", "b5651d", "6d4c41", "c0704d", "94503a")
GLASSY = _palette("4f6d7a", "c0d6df", "dbe9ee", "6b8f9c", "a3b8c2", "e5e5e5", "5a6e7f")
NEON = _palette("e0e0e0", "f5f5f5", "cfcfcf", "b3b3b3", "efe6d8", "d9d2c5", "a9a9a9")

TRAIN_STYLES = (
    CityStyle("aldermoor", BRICK, height=(9, 22), block=(60, 50), street_width=14),
    CityStyle("brackenton", WARM, height=(6, 14), block=(80, 60), street_width=18, shop_prob=0.7),
    CityStyle("corvale", CONCRETE, height=(12, 40), block=(90, 70), street_width=20, repetitive=0.5),
    CityStyle("dunmere", PASTEL, height=(7, 16), block=(55, 45), street_width=12, sign_prob=0.4),
    CityStyle("elmsbury", GLASSY, height=(15, 45), block=(85, 65), street_width=22, repetitive=0.4),
    CityStyle("fenwick", WARM + BRICK, height=(8, 20), block=(65, 55), street_width=15),
    CityStyle("glenhaven", PASTEL + CONCRETE, height=(10, 28), block=(75, 55), street_width=16),
    CityStyle("harrowgate", CONCRETE + GLASSY, height=(10, 35), block=(70, 60), street_width=18, repetitive=0.35),
    CityStyle("ivybridge", BRICK + PASTEL, height=(6, 18), block=(60, 45), street_width=13, shop_prob=0.65),
    CityStyle("juniper", WARM + GLASSY, height=(9, 30), block=(80, 55), street_width=17, sign_prob=0.45),
    CityStyle("kestrel", NEON + BRICK, height=(8, 26), block=(70, 50), street_width=15),
    CityStyle("larkspur", PASTEL + WARM, height=(7, 20), block=(65, 60), street_width=14, repaint_prob=0.35),
)
SF_STYLE = CityStyle("sanfrancisco", PASTEL + WARM, height=(8, 22), block=(100, 60), street_width=20,
                     lot_width=(6, 12), repetitive=0.25, shop_prob=0.45)
TOKYO_STYLE = CityStyle("tokyo", NEON + CONCRETE, height=(10, 40), block=(55, 40), street_width=11,
                        lot_width=(6, 14), sign_prob=0.75, shop_prob=0.8, repetitive=0.3)


@dataclass
class City:
    """Box buildings of one city plus the grid parameters the renderer needs for streets."""
    style: CityStyle
    n_blocks: tuple
    seed: int
    box: np.ndarray = field(repr=False)  # (M, 5): x0, x1, y0, y1, height
    facade: dict = field(repr=False)  # per-building façade arrays

    @property
    def pitch(self) -> tuple:
        return (self.style.block[0] + self.style.street_width, self.style.block[1] + self.style.street_width)

    @property
    def extent(self) -> tuple:
        return (self.n_blocks[0] * self.pitch[0], self.n_blocks[1] * self.pitch[1])

    def street_points(self, spacing: float, rng: np.random.Generator, lateral: float = 0.0):
        """Points every `spacing` m along every street centreline, optionally moved sideways by up to
        `lateral` m, and whether each lies on a north-south street."""
        (px, py), (ex, ey) = self.pitch, self.extent
        pts, north_south = [], []
        for i in range(1, self.n_blocks[0]):  # north-south streets x = i * px
            ys = np.arange(py * 0.5, ey - py * 0.5, spacing)
            pts.append(np.stack([np.full_like(ys, i * px), ys], 1))
            north_south.append(np.ones(len(ys), bool))
        for j in range(1, self.n_blocks[1]):  # east-west streets y = j * py
            xs = np.arange(px * 0.5, ex - px * 0.5, spacing)
            pts.append(np.stack([xs, np.full_like(xs, j * py)], 1))
            north_south.append(np.zeros(len(xs), bool))
        pts, north_south = np.concatenate(pts), np.concatenate(north_south)
        if lateral:
            side = rng.uniform(-lateral, lateral, len(pts))
            pts = pts + np.stack([np.where(north_south, side, 0), np.where(north_south, 0, side)], 1)
        return pts, north_south


def _lots(rng, start, stop, width):
    """Split [start, stop] into consecutive lots of random width."""
    edges = [start]
    while stop - edges[-1] > width[0] * 1.5:
        edges.append(min(edges[-1] + rng.uniform(*width), stop))
    edges[-1] = stop
    return list(zip(edges[:-1], edges[1:]))


def build_city(style: CityStyle, n_blocks: tuple, seed: int) -> City:
    """Line every block's perimeter with buildings and draw their façades from the style."""
    rng = np.random.default_rng(seed)
    px, py = style.block[0] + style.street_width, style.block[1] + style.street_width
    half, depth = style.street_width / 2, style.lot_depth
    boxes = []
    for i in range(n_blocks[0]):
        for j in range(n_blocks[1]):
            x0, x1 = i * px + half, (i + 1) * px - half
            y0, y1 = j * py + half, (j + 1) * py - half
            for a, b in _lots(rng, x0, x1, style.lot_width):  # south and north rows
                boxes.append((a, b, y0, y0 + depth))
                boxes.append((a, b, y1 - depth, y1))
            for a, b in _lots(rng, y0 + depth, y1 - depth, style.lot_width):  # west and east rows
                boxes.append((x0, x0 + depth, a, b))
                boxes.append((x1 - depth, x1, a, b))
    boxes = np.asarray(boxes, dtype=np.float64)
    m = len(boxes)
    heights = rng.uniform(*style.height, m)
    palette = np.asarray(style.palette)
    n_templates = 4
    templates = {
        "colour": palette[rng.integers(0, len(palette), n_templates)],
        "floor_h": rng.uniform(*style.floor_height, n_templates),
        "win_sp": rng.uniform(*style.window_spacing, n_templates),
    }
    facade = {
        "colour": np.clip(palette[rng.integers(0, len(palette), m)] + rng.normal(0, 0.10, (m, 3)), 0, 1),
        "floor_h": rng.uniform(*style.floor_height, m),
        "win_sp": rng.uniform(*style.window_spacing, m),
        "win_w": rng.uniform(0.35, 0.7, m),  # window share of a bay
        "win_tint": rng.uniform(0.05, 0.35, m),
        "win_h": rng.uniform(0.3, 0.7, m),  # window share of a floor's height
        "cornice": np.where(rng.random(m) < 0.6, rng.uniform(0.5, 1.5, m), 0.0),  # top band (m)
        "string_course": np.where(rng.random(m) < 0.4, rng.uniform(0.05, 0.12, m), 0.0),  # floor lines
        "trim_colour": np.clip(palette[rng.integers(0, len(palette), m)] * rng.uniform(0.5, 1.2, (m, 1)), 0, 1),
        "shop_h": np.where(rng.random(m) < style.shop_prob, rng.uniform(3.0, 4.5, m), 0.0),
        "shop_colour": rng.uniform(0.1, 0.9, (m, 3)),
        "has_sign": rng.random(m) < style.sign_prob,
        "sign_u": rng.uniform(0.1, 0.5, m),  # sign start along the façade (share of its width)
        "sign_w": rng.uniform(0.2, 0.45, m),
        "sign_z": rng.uniform(4.5, 9.0, m),
        "sign_colours": rng.uniform(0.0, 1.0, (m, 4, 3)),  # one per sign era
        "sign_era_len": rng.integers(2, 6, m),  # years between sign changes
        "repaint_year": np.where(rng.random(m) < style.repaint_prob, rng.integers(2010, 2024, m), 9999),
        "repaint_colour": palette[rng.integers(0, len(palette), m)],
    }
    copy = rng.random(m) < style.repetitive
    which = rng.integers(0, n_templates, m)
    for key, values in templates.items():
        facade[key][copy] = values[which[copy]]
    facade["height"] = heights
    facade = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in facade.items()}
    return City(style, tuple(n_blocks), seed, np.column_stack([boxes, heights]), facade)
