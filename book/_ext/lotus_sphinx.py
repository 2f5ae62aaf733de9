"""Sphinx helpers of the LoTUS book (loaded through ``sphinx.local_extensions`` in _config.yml).

The book is built with ``-W -n`` (warnings are errors, every cross-reference is checked) and
must read offline. Two things in ordinary docstrings would otherwise break that build
without being mistakes:

1. **References to re-exported or imported names.** A docstring may say
   ``:func:`lotus.unlearn``` (the public spelling) while the function is documented where
   it is defined, ``lotus.methods.unlearn``; or ``:class:`UnlearnReport``` inside a module
   that imports it. On a missing reference whose target names an importable object of the
   ``lotus`` package (config value ``lotus_api_packages``), this extension looks the object
   up and links to the documented definition (``obj.__module__ + "." + obj.__qualname__``). If the object exists but is not
   documented (a private helper, an undocumented constant) the text is kept without a link
   and no warning is raised. Names that do not exist still raise the usual warning, so
   stale references are caught.

2. **Prose with a colon in constant and attribute comments.** For module constants and
   class attributes, napoleon reads a first line ``X: Y`` as "type X, description Y"
   (``#: methods handled by the runner itself: ...`` would render the words before the
   colon as a type and try to cross-reference them). When the would-be type is prose (more
   than three words and no markup), the line is restored as written.

And three things in the pages:

3. **Numbers from the profiles.** The role ``{lotus-setting}`cpu.data.max_train_per_class```
   writes a value of a profile (``<profile>.<setting>[.<key>...]``, or ``<profile>.minutes`` /
   ``<profile>.description``) as text, and the directive ``lotus-profiles`` writes a table of
   every shipped profile's settings; so the pages never restate a number the profiles hold.
   An unknown profile or key is a build error.

4. **Thebe.** Jupyter Book always loads ``sphinx_thebe``, which adds its configuration
   script twice per page (a JavaScript ``SyntaxError``: ``THEBE_JS_URL`` declared twice)
   and a loader that would fetch thebe from unpkg.com. The book has no live-code button
   (``launch_buttons.thebe: false``), so these scripts and the thebe stylesheet are dropped
   from every page.
"""

from __future__ import annotations

import importlib
from typing import Any

#: default of the ``lotus_api_packages`` config value: packages whose names are resolved
PACKAGES = ("lotus",)

# -----------------------------------------------------------------------------------------
# 1. missing references into the lotus package
# -----------------------------------------------------------------------------------------


def _lookup(path: str) -> tuple[bool, Any]:
    """Import the longest module prefix of ``path`` and walk the remaining attributes.

    Returns ``(found, obj)``.
    """
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        modname = ".".join(parts[:i])
        try:
            obj = importlib.import_module(modname)
        except Exception:  # noqa: BLE001 - any import failure means "not this prefix"
            continue
        for attr in parts[i:]:
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                return False, None
        return True, obj
    return False, None


def _canonical_name(obj: Any) -> str | None:
    """Where ``obj`` is defined: ``module.qualname`` for functions, classes, methods."""
    if isinstance(obj, property) and obj.fget is not None:
        obj = obj.fget
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if isinstance(mod, str) and isinstance(qual, str) and "<" not in qual:
        return f"{mod}.{qual}"
    return None


def _candidates(target: str, modname: str | None, clsname: str | None, packages) -> list[str]:
    out = []
    if modname and clsname:
        out.append(f"{modname}.{clsname}.{target}")
    if modname:
        out.append(f"{modname}.{target}")
    out.append(target)
    return [c for c in out if any(c == p or c.startswith(p + ".") for p in packages)]


def resolve_lotus_reference(app, env, node, contnode):
    """``missing-reference`` handler (see the module docstring, item 1)."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target:
        return None
    domain = env.get_domain("py")
    packages = tuple(app.config.lotus_api_packages or ())
    for cand in _candidates(target, node.get("py:module"), node.get("py:class"), packages):
        found, obj = _lookup(cand)
        if not found:
            continue
        names = [n for n in (_canonical_name(obj), cand) if n]
        for name in names:
            if name in domain.objects:
                newnode = node.deepcopy()
                if "refspecific" in newnode.attributes:
                    del newnode["refspecific"]
                ref = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name,
                                          newnode, contnode)
                if ref is not None:
                    return ref
        # the object exists but is not documented (private helper, undocumented constant):
        # keep the text, drop the link
        return contnode
    return None


# -----------------------------------------------------------------------------------------
# 2. napoleon's inline attribute type applied to prose
# -----------------------------------------------------------------------------------------

_PROSE_MIN_WORDS = 4


def _looks_like_prose(text: str) -> bool:
    if any(ch in text for ch in "`:*|[]"):
        return False
    return len(text.split()) >= _PROSE_MIN_WORDS


def restore_prose_attribute(app, what, name, obj, options, lines: list[str]) -> None:
    """``autodoc-process-docstring`` handler run after napoleon (see item 2)."""
    if what not in ("data", "attribute"):
        return
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if not line.startswith(":type: "):
            continue
        typ = line[len(":type: "):].strip()
        if not _looks_like_prose(typ):
            return
        del lines[i]
        if i > 0 and not lines[i - 1].strip():
            del lines[i - 1]
        for j, text in enumerate(lines):
            if text.strip():
                lines[j] = f"{typ}: {text.lstrip()}"
                break
        else:
            lines.insert(0, typ)
        return


# -----------------------------------------------------------------------------------------
# 3. numbers from the profiles
# -----------------------------------------------------------------------------------------

#: the settings shown by the ``lotus-profiles`` table, in order
PROFILE_TABLE_ROWS = ("dataset", "data", "model", "model_kwargs", "train", "forget", "seeds", "unlearn", "hparams",
                      "minutes")


def _format_value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_format_value(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000:
        return f"{value:,}"
    return "null" if value is None else str(value)


def profile_value(path: str) -> Any:
    """The value at ``<profile>.<setting>[.<key>...]`` (or ``<profile>.minutes`` /
    ``<profile>.description`` / ``<profile>.tune.<key>...``) of a shipped profile; a
    ``KeyError`` names what is missing."""
    from lotus.profiles import load_profile

    name, _, rest = path.partition(".")
    prof = load_profile(name)
    if rest in ("minutes", "description"):
        return prof[rest]
    value: Any = prof["settings"]
    if rest.startswith("tune."):
        value, rest = prof["tune"], rest[len("tune."):]
    for part in rest.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"profile {name!r} has no setting {rest!r}")
        value = value[part]
    return value


def setting_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{lotus-setting}`cpu.data.max_train_per_class``` -> the value as text."""
    from docutils import nodes

    try:
        value = profile_value(text.strip())
    except Exception as exc:  # noqa: BLE001 - reported as a build error at the line
        msg = inliner.reporter.error(f"lotus-setting {text!r}: {exc}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.Text(_format_value(value))], []


def _profiles_table_directive():
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class ProfilesTable(Directive):
        """``lotus-profiles``: a table of every shipped profile's settings."""

        has_content = False

        def run(self):
            from lotus.profiles import list_profiles, load_profile

            profs = [load_profile(n) for n in list_profiles()]
            table = nodes.table(classes=["lotus-profiles"])
            group = nodes.tgroup(cols=1 + len(profs))
            table += group
            for _ in range(1 + len(profs)):
                group += nodes.colspec(colwidth=1)

            def row(cells):
                r = nodes.row()
                for c in cells:
                    entry = nodes.entry()
                    entry += nodes.paragraph(text=c)
                    r += entry
                return r

            head = nodes.thead()
            head += row(["setting", *[p["name"] for p in profs]])
            group += head
            body = nodes.tbody()
            for key in PROFILE_TABLE_ROWS:
                values = [p["minutes"] if key == "minutes" else p["settings"].get(key) for p in profs]
                label = "book minutes (measured)" if key == "minutes" else key
                body += row([label, *[_format_value(v) if v not in (None, {}) else "—" for v in values]])
            group += body
            return [table]

    return ProfilesTable


# -----------------------------------------------------------------------------------------
# 4. thebe scripts
# -----------------------------------------------------------------------------------------


def _asset_name(asset: Any) -> str:
    return str(getattr(asset, "filename", asset) or "")


def _asset_body(asset: Any) -> str:
    attrs = getattr(asset, "attributes", None) or {}
    return str(attrs.get("body", "") or "")


def _is_thebe(asset: Any) -> bool:
    return "thebe" in _asset_name(asset).lower() or "THEBE_JS_URL" in _asset_body(asset)


def drop_thebe_assets(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` handler (see the module docstring, item 3)."""
    if app.config.html_theme_options.get("launch_buttons", {}).get("thebe"):
        return
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if assets:
            context[key] = [a for a in assets if not _is_thebe(a)]


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.napoleon")
    app.add_config_value("lotus_api_packages", list(PACKAGES), "env")
    app.connect("missing-reference", resolve_lotus_reference, priority=900)
    # napoleon processes docstrings at the default priority 500; run after it
    app.connect("autodoc-process-docstring", restore_prose_attribute, priority=600)
    app.connect("html-page-context", drop_thebe_assets)
    app.add_role("lotus-setting", setting_role)
    app.add_directive("lotus-profiles", _profiles_table_directive())
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["resolve_lotus_reference", "restore_prose_attribute", "drop_thebe_assets", "profile_value", "setting_role",
           "setup"]
