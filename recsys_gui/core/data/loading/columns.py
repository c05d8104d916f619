"""Which column holds the users, the items, the ratings and the times: by name, else by content.

Names are matched against known aliases (``userId``, ``movieId``, ``plays``, ``timestamp``...);
without a header (or with unknown names) the first two free columns are the ids and the next
numeric ones the rating and the time. Every guess can be overridden by ``LoadOptions``.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pandas as pd

from recsys_gui.core.data.loading.options import NULLS, ROLES, LoadOptions
from recsys_gui.core.errors import ConfigError, DataError

DISABLED = "\0disabled"  # a role the user turned off ("--rating none")


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Column names (lower-cased, non-alphanumerics removed) that say which role a column plays.
_ALIASES: dict[str, tuple[str, ...]] = {
    "user": words(
        "user userid uid users visitorid visitor customer customerid client clientid member memberid "
        "reviewer reviewerid account accountid person personid player playerid listener listenerid buyer "
        "buyerid viewer subscriber profile profileid sessionid u"
    ),
    "item": words(
        "item itemid iid items movie movieid artist artistid game gameid product productid track trackid "
        "song songid book bookid isbn asin business businessid video videoid article articleid news "
        "newsid sku poi poiid venue venueid anime animeid recipe recipeid app appid course courseid "
        "content contentid show showid post postid doc docid hotel hotelid beer beerid joke jokeid place "
        "placeid i title titleid"
    ),
    "rating": words(
        "rating ratings rate score weight count counts plays playcount purchase purchased value stars "
        "star overall preference hours playtime clicks views listens quantity qty amount frequency freq "
        "label feedback grade likes r"
    ),
    "timestamp": words(
        "timestamp time date ts datetime unixtime unixtimestamp epoch created createdat eventtime "
        "timestamps when t"
    ),
}
EXACT_NAMES = {alias: (role, rank) for role, names in _ALIASES.items() for rank, alias in enumerate(names)}


def norm_name(name: str) -> str:
    name = name.split(":", 1)[0] if ":" in name[1:] else name  # RecBole atomic 'user_id:token'
    return re.sub(r"[^0-9a-z]", "", name.lower())


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def value_kind(values: list[str]) -> str:
    """'int', 'float', 'epoch', 'date', 'text' or 'empty' for a sample of one column."""
    vals = [v.strip() for v in values if v.strip() and v.strip() not in NULLS]
    if not vals:
        return "empty"
    try:
        nums = [float(v) for v in vals]
    except ValueError:
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            parsed = pd.to_datetime(pd.Series(vals[:50]), errors="coerce", format="mixed")
            if parsed.notna().all():
                return "date"
        return "text"
    if all(float(x).is_integer() for x in nums) and min(nums) >= 1e8:
        return "epoch"
    return "int" if all(re.fullmatch(r"-?\d+", v) for v in vals) else "float"


def guess_roles(
    p: Path, columns: tuple[str, ...], header: bool, data: list[list[str]], options: LoadOptions
) -> tuple[dict[str, str | None], list[str]]:
    warnings: list[str] = []
    kinds = {c: value_kind([r[j] for r in data if len(r) > j]) for j, c in enumerate(columns)}
    chosen: dict[str, str | None] = {}
    for role in ROLES:
        given = getattr(options, role)
        if given is not None:
            chosen[role] = _resolve_column(p, given, columns, role)
    taken = {c for c in chosen.values() if c not in (None, DISABLED)}
    if len(taken) < len([c for c in chosen.values() if c not in (None, DISABLED)]):
        raise ConfigError("the same column was given for two roles")
    by_name = header and any(_name_score(c)[0] for c in columns)
    if by_name:
        cands = sorted(
            (-score, rank, ROLES.index(role), j, role, c)
            for j, c in enumerate(columns)
            for role, score, rank in name_matches(c)
        )
        for neg_score, _r, _o, _j, role, c in cands:
            if role in chosen or c in taken:
                continue
            # an exact name is trusted (bad values then get a precise error); a partial one is checked
            if role in ("rating", "timestamp") and neg_score > -3 and not _fits(role, kinds[c]):
                warnings.append(f"column '{c}' looks like a {role} by name but its values do not; ignored")
                continue
            chosen[role] = c
            taken.add(c)
    free = [c for c in columns if c not in taken]
    for role in ("user", "item"):
        if role not in chosen:
            if not free:
                raise DataError(
                    f"cannot tell which column holds the {role} ids (columns: "
                    f"{', '.join(columns)}); name it with --{role}",
                    path=p,
                )
            chosen[role] = free.pop(0)
            taken.add(chosen[role])  # type: ignore[arg-type]
            if header:
                warnings.append(f"no column is named like a {role} id; using '{chosen[role]}' (by position)")
    if not by_name:  # no header (or unrecognised names): value then time, by position and content
        for c in [c for c in columns if c not in taken]:
            if "rating" not in chosen and kinds[c] in ("int", "float"):
                chosen["rating"] = c
            elif "timestamp" not in chosen and kinds[c] in ("epoch", "date", "int", "float"):
                chosen["timestamp"] = c
            elif "rating" not in chosen and kinds[c] == "epoch" and "timestamp" in chosen:
                chosen["rating"] = c
    roles = {r: (None if chosen.get(r) in (None, DISABLED) else chosen[r]) for r in ROLES}
    return roles, warnings


def _fits(role: str, kind: str) -> bool:
    return kind in (
        ("int", "float", "epoch", "empty") if role == "rating" else ("int", "float", "epoch", "date", "empty")
    )


def name_matches(column: str) -> list[tuple[str, int, int]]:
    """(role, score, alias rank): 3 for an exact alias, 2 for a name that starts/ends with one."""
    n = norm_name(column)
    out = []
    for role, aliases in _ALIASES.items():
        if n in aliases:
            out.append((role, 3, aliases.index(n)))
            continue
        partial = [k for k, a in enumerate(aliases) if len(a) >= 4 and (n.startswith(a) or n.endswith(a))]
        if partial:
            out.append((role, 2, partial[0]))
    return out


def _name_score(column: str) -> tuple[int, str | None]:
    matches = name_matches(column)
    return (max(m[1] for m in matches), matches[0][0]) if matches else (0, None)


def _resolve_column(p: Path, given: str, columns: tuple[str, ...], role: str) -> str:
    if given in columns:
        return given
    if role in ("rating", "timestamp") and given.strip().lower() in ("none", "-", ""):
        return DISABLED
    if given.isdigit() and int(given) < len(columns):
        return columns[int(given)]
    folded = [c for c in columns if c.lower() == given.lower()]
    if len(folded) == 1:
        return folded[0]
    raise DataError(
        f"no column named '{given}' for the {role} (columns: {', '.join(columns)})", path=p, column=given
    )
