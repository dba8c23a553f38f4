"""A Griffe extension for the site's API reference (mkdocs.yml loads it): minires's
docstrings name other objects with Sphinx's roles, :func:`manual_seed`, :mod:`minires.fast`,
:class:`~minires.autograd.Function`; Markdown has no such roles and would show them as
written. Each becomes inline code, `manual_seed`, `minires.fast`, `Function` (a leading
~ keeps the last name only, as in Sphinx)."""

import re

import griffe

SPHINX_ROLE = re.compile(r":(?:func|meth|class|mod|data|attr|exc|obj):`(~?)([^`]+)`")


def as_code(match):
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class SphinxRolesAsCode(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = SPHINX_ROLE.sub(as_code, obj.docstring.value)
