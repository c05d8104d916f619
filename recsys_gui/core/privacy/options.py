"""What an export leaves out or disguises: the one option object the CLI, the GUI and the exporters share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recsys_gui.core.privacy.pseudonyms import WorkspaceLike, key_id, workspace_key


@dataclass(frozen=True)
class ExportPrivacy:
    """``pseudonymise``: user ids become keyed pseudonyms (``pseudonyms``); ``drop_titles``: item
    titles and other item metadata are left out. Item ids are kept: they are what makes the lists
    usable."""

    pseudonymise: bool = False
    drop_titles: bool = False

    @property
    def active(self) -> bool:
        return self.pseudonymise or self.drop_titles

    def run_info(self, workspace: WorkspaceLike) -> dict[str, Any]:
        """Entries for an export's ``run`` table / metadata: how user ids were written, and by which key.

        The key id names the key (so the right one is used to map back) without revealing it.
        """
        if not self.active:
            return {}
        info: dict[str, Any] = {"user_ids": "raw", "item_metadata": "dropped" if self.drop_titles else "kept"}
        if self.pseudonymise:
            info["user_ids"] = "pseudonymised (HMAC-SHA256)"
            info["pseudonym_key_id"] = key_id(workspace_key(workspace))
        return info
