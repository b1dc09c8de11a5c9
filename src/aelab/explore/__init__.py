"""`aelab explore`: an interactive latent-space explorer, one self-contained HTML page per run
(or two runs side by side) whose decoder runs in the browser; `--serve` decodes in Python."""

from aelab.explore.decoder_spec import UnsupportedLayer, export_decoder
from aelab.explore.page import build_pages, render, write_page
from aelab.explore.page_data import ExploreOptions

__all__ = ["ExploreOptions", "UnsupportedLayer", "build_pages", "export_decoder", "render", "write_page"]
