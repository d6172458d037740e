"""Reflex configuration of the Carnet web app (run `reflex` commands from this directory).

The environment defaults below keep Reflex from calling out to the internet (telemetry, version
check, npm mirror speed test, public-address probe): machines building Carnet may reach only the
package registries. They apply to every `reflex` command run here (and so to `carnet dev` and
the browser tests); a value already in the environment wins. bun must be on PATH (see
scripts/ensure-bun.sh), or Reflex tries to download its installer.
"""

import os

import reflex as rx
from carnet_web.components.theme import carnet_theme

OFFLINE_ENV = {
    "REFLEX_TELEMETRY_ENABLED": "false",
    "REFLEX_CHECK_LATEST_VERSION": "0",
    "REFLEX_HTTP_CLIENT_BIND_ADDRESS": "0.0.0.0",
    "NPM_CONFIG_REGISTRY": "https://registry.npmjs.org/",
}
for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)

config = rx.Config(
    app_name="carnet_web",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=carnet_theme())],
    # No sitemap: the pages of a personal health space are not for search engines.
    disable_plugins=[rx.plugins.SitemapPlugin],
)
