"""Privacy of what leaves the analyst's machine: keyed user pseudonyms in exports, and the options.

``pseudonyms`` holds the keyed hash, the workspace key (created, rotated) and the mapping back;
``options.ExportPrivacy`` is what the CLI flags and the Export page's boxes become, honoured by
``core.export.ids`` when exported rows are labelled.
"""

from __future__ import annotations

from recsys_gui.core.privacy.options import ExportPrivacy
from recsys_gui.core.privacy.pseudonyms import (
    key_id,
    key_path,
    map_back,
    pseudonymise,
    rotate_key,
    workspace_key,
)

__all__ = ["ExportPrivacy", "key_id", "key_path", "map_back", "pseudonymise", "rotate_key", "workspace_key"]
