# SPDX-License-Identifier: BSD-2-Clause
"""The PASCAL VOC colour map (fcn-reference 7.6), the one Python copy: the data-script tests
and scripts/side_by_side.py import it (fcntool's C++ VocPalette is the same table)."""
from __future__ import annotations

import numpy as np


def voc_palette(n: int = 256) -> np.ndarray:
    """The first ``n`` VOC colours as an ``n x 3`` uint8 array of RGB rows."""
    palette = np.zeros((n, 3), dtype=np.uint8)
    for k in range(n):
        c, r, g, b = k, 0, 0, 0
        for i in range(8):
            r |= ((c >> 0) & 1) << (7 - i)
            g |= ((c >> 1) & 1) << (7 - i)
            b |= ((c >> 2) & 1) << (7 - i)
            c >>= 3
        palette[k] = (r, g, b)
    return palette
