"""Paths inside a product: its entry points, the sub-paths that need a higher tier than its folder,
and the paths a deployment has removed (`PORTAL_BLOCK`).

A monolithic product holds several services under one mount (`/svc_disagg/`, `/svc_hazard/`, ...)
and one folder, hence one tier. Its `product.toml` may list the services as entry points and
raise the tier of some of them; a deployment may remove some altogether. The Gate decides on the
path as the product might read it, and a request path can be read more than one way: percent
escapes decoded once more (`%252F`), backslashes taken for slashes, `;parameters` dropped or
kept, `..` resolved or left to the product's router, case folded or not. A path's readings are
all of those at once, and a request needs the highest tier any reading needs (and is removed if
any reading is): a trick that makes one reader see another service cannot make the Gate see a
cheaper one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from urllib.parse import unquote

from auth.tiers import TIER_NAMES, Tier

#: Enough for any chain of re-encodings a proxy and a framework would undo between them.
_MAX_DECODINGS = 4
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class EntryPoint:
    """A service of a product, listed under its card on the dashboard."""

    path: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class StricterPath:
    """Every route under `prefix` (inside the product's mount) needs `tier`."""

    prefix: str
    tier: Tier

    def covers(self, reading: str) -> bool:
        return reading == self.prefix or reading.startswith(self.prefix + "/")


def _segments(path: str) -> list[str]:
    return [segment for segment in path.replace("\\", "/").split("/") if segment]


def _resolved(segments: list[str]) -> list[str]:
    """Dot segments applied, as a browser or a file server would, never above the root."""
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    return kept


@lru_cache(maxsize=4096)
def path_readings(path_info: str) -> frozenset[str]:
    """Every way a product might read `path_info` (a WSGI string: bytes as latin-1), each as
    lower-case `/segment/segment` without a trailing slash; the root is `/`."""
    text = path_info.encode("latin-1", "replace").decode("utf-8", "replace")
    for _ in range(_MAX_DECODINGS):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    segments = _segments(text.lower())
    without_parameters = [segment.split(";", 1)[0] for segment in segments]
    readings = set()
    for variant in (segments, [s for s in without_parameters if s]):
        readings.add("/" + "/".join(variant))
        readings.add("/" + "/".join(_resolved(variant)))
    return frozenset(readings)


def canonical_prefix(text: str, what: str) -> str:
    """A prefix written in metadata or a setting, as readings spell it; ValueError for one that
    no reading could ever match (dot segments) or that names the whole product."""
    segments = _segments(text.strip().lower())
    if any(segment in {".", ".."} for segment in segments):
        raise ValueError(f"{what} {text!r} has a dot segment; write the path it means")
    return "/" + "/".join(segments)


def read_stricter_paths(data: Mapping[str, str]) -> tuple[StricterPath, ...]:
    """`[stricter_paths]` of a product.toml: `"/svc_hazard/" = "ea"`, longest prefix first."""
    rules = []
    for prefix, tier in data.items():
        if tier.strip().lower() not in TIER_NAMES:
            raise ValueError(
                f"stricter_paths {prefix!r}: the tier must be one of {', '.join(TIER_NAMES)}"
            )
        canonical = canonical_prefix(prefix, "stricter_paths")
        if canonical == "/":
            raise ValueError(
                "stricter_paths '/': the whole product needs a higher tier; move its folder to "
                "that tier instead"
            )
        rules.append(StricterPath(canonical, Tier(tier.strip().lower())))
    return tuple(sorted(rules, key=lambda rule: len(rule.prefix), reverse=True))


@dataclass(frozen=True)
class BlockPattern:
    """One entry of `PORTAL_BLOCK`: `tier/name/path`, each part may be a glob; `.../*` also
    matches the folder itself and a path without glob also matches it with a trailing slash (the
    readings have none); `tier/name` alone removes the whole product."""

    text: str
    product: str
    path: str

    def applies_to(self, key: str) -> bool:
        return fnmatchcase(key, self.product)

    def removes(self, readings: Iterable[str]) -> bool:
        folder = self.path[:-2] if self.path.endswith("/*") else None
        return any(
            fnmatchcase(reading, self.path) or (folder is not None and reading == (folder or "/"))
            for reading in readings
        )


def parse_block_pattern(text: str) -> BlockPattern:
    """ValueError says what is wrong with one `PORTAL_BLOCK` entry."""
    parts = text.strip().lower().split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"PORTAL_BLOCK entry {text!r} must be <tier>/<name>[/<path>]")
    tier, name = parts[0], parts[1]
    if tier not in TIER_NAMES and not _GLOB_CHARACTERS & set(tier):
        raise ValueError(
            f"PORTAL_BLOCK entry {text!r}: {tier!r} is not a tier ({', '.join(TIER_NAMES)})"
        )
    rest = parts[2] if len(parts) == 3 else ""
    path = canonical_prefix(rest, f"PORTAL_BLOCK entry {text!r}:") if rest.strip("/") else "/*"
    return BlockPattern(text.strip(), f"{tier}/{name}", path)


def parse_blocks(setting: str) -> tuple[BlockPattern, ...]:
    """`PORTAL_BLOCK`: entries separated by spaces or commas."""
    return tuple(parse_block_pattern(entry) for entry in setting.replace(",", " ").split())


def blocks_for(key: str, blocks: Iterable[BlockPattern]) -> tuple[BlockPattern, ...]:
    return tuple(block for block in blocks if block.applies_to(key))


@dataclass(frozen=True)
class PathPolicy:
    """What one product's Gate checks about the path, before and after knowing who is asking."""

    folder_tier: Tier
    stricter: tuple[StricterPath, ...]
    blocks: tuple[BlockPattern, ...]

    @classmethod
    def for_product(
        cls, tier: Tier, stricter: tuple[StricterPath, ...], blocks: tuple[BlockPattern, ...]
    ) -> PathPolicy | None:
        """None when the product has nothing to check: its Gate then reads no path at all."""
        raised = tuple(rule for rule in stricter if rule.tier.rank > tier.rank)
        if not raised and not blocks:
            return None
        return cls(tier, raised, blocks)

    def removed(self, readings: frozenset[str]) -> bool:
        return any(block.removes(readings) for block in self.blocks)

    def needs(self, readings: frozenset[str]) -> tuple[Tier, StricterPath | None]:
        """The tier the path needs, and the rule that raised it above the folder's (if any)."""
        needed, because = self.folder_tier, None
        for rule in self.stricter:
            if rule.tier.rank > needed.rank and any(rule.covers(r) for r in readings):
                needed, because = rule.tier, rule
        return needed, because


def tier_at(tier: Tier, stricter: tuple[StricterPath, ...], path: str) -> Tier:
    """The tier a path inside a product needs: its folder's, or a stricter rule's."""
    policy = PathPolicy.for_product(tier, stricter, ())
    return tier if policy is None else policy.needs(path_readings(path))[0]


def removed_at(blocks: Iterable[BlockPattern], path: str) -> bool:
    readings = path_readings(path)
    return any(block.removes(readings) for block in blocks)
