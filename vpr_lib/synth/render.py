"""A 2.5-D column ray-caster: one ray per image column against the city's box buildings.

Per column, the ray is intersected with every box within SEARCH_RADIUS (slab test) and the
K nearest hits are kept; per pixel, the elevation slope picks the first of them whose wall spans
it, else ground (road, sidewalk, lane marks) or sky.  Façades are shaded procedurally (window
grid, shop band, sign, repaints by capture year) and lit by the time of day (lit windows at
night), then fog, occluders (vehicles, pedestrians) and camera effects (exposure, noise).
The per-pixel work is compiled with numba (cached on disk after the first call).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from vpr_lib.synth.city import City

TIMES = ("day", "sunset", "night")
K_LAYERS = 3  # buildings considered per column (nearest first)
SEARCH_RADIUS = 160.0
CAM_HEIGHT = 2.5


@dataclass
class Cameras:
    """A batch of captures; every field is an array of shape (B,)."""
    x: np.ndarray
    y: np.ndarray
    heading: np.ndarray  # degrees, 0 = north (+y), 90 = east (+x)
    pitch: np.ndarray  # degrees, positive looks up
    fov: np.ndarray  # horizontal field of view, degrees
    time: np.ndarray  # index into TIMES
    fog: np.ndarray  # extinction per metre (0 = clear)
    year: np.ndarray  # capture year (repaints, signs)
    occluders: np.ndarray  # number of vehicles/pedestrians in front of the camera
    exposure: np.ndarray  # brightness multiplier of the camera

    def __len__(self):
        return len(self.x)


# Per time of day (rows follow TIMES): light on surfaces, sky at zenith and horizon, fog colour.
LIGHT = np.array([(1.0, 1.0, 1.0), (0.95, 0.70, 0.50), (0.10, 0.10, 0.14)], np.float32)
SKY_ZENITH = np.array([(0.35, 0.55, 0.85), (0.25, 0.22, 0.45), (0.01, 0.01, 0.04)], np.float32)
SKY_HORIZON = np.array([(0.78, 0.86, 0.95), (0.98, 0.60, 0.30), (0.06, 0.06, 0.12)], np.float32)
FOG_COLOUR = np.array([(0.80, 0.82, 0.84), (0.75, 0.62, 0.55), (0.10, 0.10, 0.12)], np.float32)
WINDOW_GLOW = np.array([1.0, 0.82, 0.45], np.float32)
MARK_COLOUR = np.array([0.92, 0.88, 0.60], np.float32)
# Material slots of a building's colour table (repainted wall/glass are WALL/GLASS + 2).
WALL, GLASS, SHOP, SHOP_WINDOW, SIGN, TRIM = 0, 1, 4, 5, 6, 10
# Façade parameters packed per building for the kernel (columns of City.facade_array).
FACADE_KEYS = ("height", "floor_h", "win_sp", "win_w", "shop_h", "has_sign", "sign_u", "sign_w", "sign_z",
               "sign_era_len", "repaint_year", "win_h", "cornice", "string_course")


@numba.njit(cache=True)
def _hash01(a, b, c, d):
    """Deterministic pseudo-random number in [0, 1) from four integers."""
    h = np.int64(1469598103)
    h = ((h ^ (np.int64(a) * 2654435761)) * 1099511) & 0x7FFFFFFF
    h = ((h ^ (np.int64(b) * 40503)) * 1099511) & 0x7FFFFFFF
    h = ((h ^ (np.int64(c) * 2246822519)) * 1099511) & 0x7FFFFFFF
    h = ((h ^ (np.int64(d) * 3266489917)) * 1099511) & 0x7FFFFFFF
    return (h % 10007) / 10007.0


@numba.njit(cache=True)
def _cast(box, cx, cy, dx, dy, k_layers):
    """K nearest ray/box hits per column: distance, box index, whether the wall is one of constant x."""
    n_b, n_c = dx.shape
    t_out = np.full((n_b, n_c, k_layers), np.inf, np.float32)
    id_out = np.zeros((n_b, n_c, k_layers), np.int64)
    xf_out = np.zeros((n_b, n_c, k_layers), np.bool_)
    for b in range(n_b):
        for c in range(n_c):
            ix = 1.0 / dx[b, c] if abs(dx[b, c]) > 1e-9 else 1e9
            iy = 1.0 / dy[b, c] if abs(dy[b, c]) > 1e-9 else 1e9
            for m in range(box.shape[0]):
                tx0, tx1 = (box[m, 0] - cx[b]) * ix, (box[m, 1] - cx[b]) * ix
                ty0, ty1 = (box[m, 2] - cy[b]) * iy, (box[m, 3] - cy[b]) * iy
                tminx, tminy = min(tx0, tx1), min(ty0, ty1)
                tnear = max(tminx, tminy)
                tfar = min(max(tx0, tx1), max(ty0, ty1))
                if tnear >= tfar or tnear <= 0.05 or tnear >= t_out[b, c, k_layers - 1]:
                    continue
                k = k_layers - 1  # insertion into the sorted K best
                while k > 0 and t_out[b, c, k - 1] > tnear:
                    t_out[b, c, k], id_out[b, c, k], xf_out[b, c, k] = (t_out[b, c, k - 1], id_out[b, c, k - 1],
                                                                       xf_out[b, c, k - 1])
                    k -= 1
                t_out[b, c, k], id_out[b, c, k], xf_out[b, c, k] = tnear, m, tminx > tminy
    return t_out, id_out, xf_out


@numba.njit(cache=True)
def _shade(out, dist, t_k, ids, xface, box, facade, materials, cx, cy, dx, dy, slope_col, horizon, f,
           time, year, exposure, pitch_xy, road_half, road_colour, walk_colour, seed):
    """Fill out (B, H, W, 3) with wall, ground or sky colour and dist (B, H, W) with the depth."""
    n_b, h, w, _ = out.shape
    k_layers = t_k.shape[2]
    for b in range(n_b):
        tm = time[b]
        for c in range(w):
            for r in range(h):
                s = (horizon[b] - (r + 0.5)) / f[b] * slope_col[b, c]
                hit = -1
                for k in range(k_layers):
                    t = t_k[b, c, k]
                    if t == np.inf:
                        break
                    if s < (box[ids[b, c, k], 4] - CAM_HEIGHT) / t and s >= -CAM_HEIGHT / t:
                        hit = k
                        break
                if hit >= 0:  # a façade
                    t = t_k[b, c, hit]
                    m = ids[b, c, hit]
                    z = CAM_HEIGHT + s * t
                    hx, hy = cx[b] + t * dx[b, c], cy[b] + t * dy[b, c]
                    u = hy - box[m, 2] if xface[b, c, hit] else hx - box[m, 0]
                    face_w = box[m, 3] - box[m, 2] if xface[b, c, hit] else box[m, 1] - box[m, 0]
                    fl = z / facade[m, 1]
                    floor = np.floor(fl)
                    fz = fl - floor
                    bu = u / facade[m, 2]
                    bay = np.floor(bu)
                    fu = bu - bay
                    shop_h = facade[m, 4]
                    shop = z < shop_h
                    roof = z > facade[m, 0] - facade[m, 12]  # cornice band at the top
                    window = (not shop) and (not roof) and abs(fu - 0.5) < facade[m, 3] / 2 \
                        and abs(fz - 0.55) < facade[m, 11] / 2
                    trim = roof or (not shop and fz < facade[m, 13])  # cornice and string courses
                    shop_window = shop and abs(fu - 0.5) < 0.42 and z > 0.6 and z < shop_h - 0.7
                    su = u / face_w
                    sign = facade[m, 5] > 0 and su > facade[m, 6] and su < facade[m, 6] + facade[m, 7] \
                        and abs(z - facade[m, 8] - 0.7) < 0.7
                    if sign:
                        mat = SIGN + (year[b] // int(facade[m, 9])) % 4
                    elif shop:
                        mat = SHOP_WINDOW if shop_window else SHOP
                    elif trim:
                        mat = TRIM
                    else:
                        mat = (2 if year[b] >= facade[m, 10] else 0) + (1 if window else 0)
                    shade = (0.82 if xface[b, c, hit] else 1.0) * (1.0 - 0.25 * min(t / 150.0, 1.0))
                    glow = tm == 2 and (sign or shop_window or (window and _hash01(m, floor, bay, seed + b) < 0.45))
                    for ch in range(3):
                        v = materials[m, mat, ch] * shade * LIGHT[tm, ch]
                        if glow:
                            v += materials[m, mat, ch] if sign else WINDOW_GLOW[ch] * (0.7 + 0.3 * _hash01(m, bay, 0, 0))
                        out[b, r, c, ch] = v * exposure[b]
                    dist[b, r, c] = t
                elif s < 0:  # the ground: road, sidewalk, lane marks
                    t = min(CAM_HEIGHT / -s, 400.0)
                    gx, gy = cx[b] + t * dx[b, c], cy[b] + t * dy[b, c]
                    ox = abs((gx + pitch_xy[0] / 2) % pitch_xy[0] - pitch_xy[0] / 2)
                    oy = abs((gy + pitch_xy[1] / 2) % pitch_xy[1] - pitch_xy[1] / 2)
                    on_x, on_y = ox < road_half, oy < road_half
                    mark = (on_x and not on_y and ox < 0.15 and gy % 6.0 < 3.0) or \
                        (on_y and not on_x and oy < 0.15 and gx % 6.0 < 3.0)
                    near = 1.0 - 0.3 * np.exp(-t / 6.0)
                    lamp = 0.25 * np.exp(-t / 15.0) if tm == 2 else 0.0
                    for ch in range(3):
                        base = MARK_COLOUR[ch] if mark else road_colour[ch] if (on_x or on_y) else walk_colour[ch]
                        out[b, r, c, ch] = (base * near * LIGHT[tm, ch] + lamp * WINDOW_GLOW[ch]) * exposure[b]
                    dist[b, r, c] = t
                else:  # the sky, a gradient from the horizon up
                    e = min(s * 2.0, 1.0)
                    for ch in range(3):
                        out[b, r, c, ch] = (SKY_HORIZON[tm, ch] * (1 - e) + SKY_ZENITH[tm, ch] * e) * exposure[b]
                    dist[b, r, c] = 1e4


def _material_table(city: City) -> np.ndarray:
    """Per building the colours of its materials: (M, 11, 3), float32, cached on the city."""
    if getattr(city, "_materials", None) is None:
        f = city.facade
        tables = []
        for wall in (f["colour"], f["repaint_colour"]):
            tables += [wall, np.clip(wall * 0.25 + f["win_tint"][:, None], 0, 1)]
        tables += [f["shop_colour"] * 0.8, f["shop_colour"] * 0.3 + 0.1] + [f["sign_colours"][:, e] for e in range(4)]
        tables += [f["trim_colour"]]
        city._materials = np.stack(tables, 1).astype(np.float32)
        city._facade_array = np.column_stack([f[k] for k in FACADE_KEYS]).astype(np.float32)
    return city._materials


def _draw_occluders(img, rng, n, horizon, f, time):
    """Vehicles and pedestrians as simple sprites standing on the ground in front of the camera."""
    h, w, _ = img.shape
    for _ in range(int(n)):
        dist = rng.uniform(3.0, 12.0)
        foot = int(horizon + f * CAM_HEIGHT / dist)
        car = rng.random() < 0.6
        height, width = (1.5, rng.uniform(3.5, 4.5)) if car else (1.75, 0.55)
        top, half = int(foot - f * height / dist), max(1, int(f * width / dist / 2))
        cx = int(rng.uniform(0, w))
        body = rng.uniform(0.05, 0.9, 3) * LIGHT[time].mean()
        y0, y1, x0, x1 = max(top, 0), min(foot, h), max(cx - half, 0), min(cx + half, w)
        if y1 <= y0 or x1 <= x0:
            continue
        img[y0:y1, x0:x1] = body
        if car:  # windows band, and headlights at night
            wy = top + (foot - top) // 5
            img[max(wy, 0):max(min(wy + (foot - top) // 4, h), 0), x0:x1] = body * 0.3 + 0.1
            if time == 2:
                ly = max(min(foot - (foot - top) // 3, h - 1), 0)
                img[ly, x0:min(x0 + max(1, half // 3), w)] = (1.0, 1.0, 0.8)
        else:
            head = max(1, (foot - top) // 7)
            img[max(top, 0):max(min(top + head, h), 0), x0:x1] = (0.8, 0.6, 0.5)


def _noise_bank(size: int) -> np.ndarray:
    """A fixed tile of sensor noise; each image takes a random crop (cheap and deterministic)."""
    if size not in _NOISE:
        _NOISE[size] = np.random.default_rng(size).normal(0, 0.012, (2 * size, 2 * size, 3)).astype(np.float32)
    return _NOISE[size]


_NOISE: dict = {}


def render(city: City, cams: Cameras, size: int, seed: int) -> np.ndarray:
    """Render a batch of cameras of one city into uint8 images of shape (B, size, size, 3)."""
    n_b = len(cams)
    materials = _material_table(city)
    x_cam = (np.arange(size) + 0.5 - size / 2) / (size / 2) * np.tan(np.radians(cams.fov) / 2)[:, None]
    angle = np.radians(cams.heading)[:, None] + np.arctan(x_cam)
    dx, dy = np.sin(angle), np.cos(angle)
    box = city.box
    near_x = np.maximum(np.maximum(box[:, 0, None] - cams.x, cams.x - box[:, 1, None]), 0)
    near_y = np.maximum(np.maximum(box[:, 2, None] - cams.y, cams.y - box[:, 3, None]), 0)
    nearby = np.flatnonzero(np.hypot(near_x, near_y).min(1) < SEARCH_RADIUS)
    t_k, ids, xface = _cast(box[nearby], cams.x.astype(np.float64), cams.y.astype(np.float64), dx, dy, K_LAYERS)
    ids = nearby[ids]
    f = (size / 2) / np.tan(np.radians(cams.fov) / 2)
    horizon = size / 2 + f * np.tan(np.radians(cams.pitch))
    img = np.empty((n_b, size, size, 3), np.float32)
    dist = np.empty((n_b, size, size), np.float32)
    s = city.style
    _shade(img, dist, t_k, ids, xface, box, city._facade_array, materials, cams.x.astype(np.float64),
           cams.y.astype(np.float64), dx, dy, 1.0 / np.sqrt(1.0 + x_cam ** 2), horizon, f,
           cams.time.astype(np.int64), cams.year.astype(np.int64), cams.exposure.astype(np.float64),
           np.asarray(city.pitch, np.float64), s.street_width / 2 - 3.0, np.asarray(s.road_colour, np.float32),
           np.asarray(s.walk_colour, np.float32), int(seed))
    noise = _noise_bank(size)
    rng = np.random.default_rng(seed)
    for i in range(n_b):
        if cams.fog[i] > 0:
            keep = np.exp(-cams.fog[i] * dist[i])[..., None]
            img[i] = img[i] * keep + FOG_COLOUR[cams.time[i]] * cams.exposure[i] * (1 - keep)
        _draw_occluders(img[i], rng, cams.occluders[i], horizon[i], f[i], cams.time[i])
        oy, ox = rng.integers(0, size, 2)
        img[i] += noise[oy:oy + size, ox:ox + size]
    np.clip(img, 0, 1, out=img)
    return (img * 255 + 0.5).astype(np.uint8)
