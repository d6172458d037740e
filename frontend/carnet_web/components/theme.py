"""The Carnet theme: one set of colours, type scale and spacing for every page.

Radix Themes' default accent ("blue", #0090ff) puts white text at 3.3:1 on solid buttons, below
WCAG 2.1 AA (4.5:1). Indigo's step 9 (#3e63dd) gives 5.2:1 for white text, and its step 11 (links,
soft buttons) 6.9:1 on white; slate's step 11 (secondary text) 5.1:1. Every colour a page uses
comes from these two scales (plus red/green/amber for states, at steps 11/12 on steps 2-4, which
Radix designs for AA text contrast): pages never set their own colours.
"""

from __future__ import annotations

from typing import Final

import reflex as rx

ACCENT: Final = "indigo"
GRAY: Final = "slate"

#: The breakpoint under which the navigation folds into a menu button.
NARROW: Final = "@media (max-width: 639.98px)"
WIDE: Final = "@media (min-width: 640px)"

#: Type scale (Radix sizes): page title, section title, body, small print.
TITLE_SIZE: Final = "7"
SECTION_SIZE: Final = "5"
BODY_SIZE: Final = "3"
SMALL_SIZE: Final = "2"

#: Spacing between blocks of a page, and inside a block (Radix space scale).
PAGE_GAP: Final = "5"
BLOCK_GAP: Final = "3"


def carnet_theme() -> rx.Component:
    return rx.theme(accent_color=ACCENT, gray_color=GRAY, radius="medium", scaling="100%",
                    appearance="light", has_background=True, panel_background="solid")


#: Radix steps that miss AA (4.5:1) for small text, measured by axe here: soft badges and
#: callouts write step 11 on step 3 (amber 4.24:1, green 4.28:1): step 12 instead; solid red,
#: green and gray buttons put white on step 9 (red 3.91:1): step 11 instead (red 5.2:1); a
#: hovered link drops to step 8 (2.4:1): step 12. Those rules are in frontend/assets/carnet.css
#: (a plain stylesheet reaches the dialogs Radix renders in portals).

#: Global style: a visible focus ring on everything that can take focus (keyboard users must
#: always see where they are), long words that wrap instead of pushing the page sideways, and
#: the contrast fixes above.
GLOBAL_STYLE: Final = {
    "*:focus-visible": {
        "outline": "3px solid var(--accent-9)",
        "outline_offset": "2px",
    },
    "body": {"overflow_wrap": "anywhere"},
    "img": {"max_width": "100%"},
}
