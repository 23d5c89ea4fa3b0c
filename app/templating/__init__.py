"""Conversation templates: the grammar (`{{ name }}` and four filters, parsed by hand), the checks
at save and at render, and the service over the template records (API "Templates").

Template text can never reach a Python object: the parse is plain data and rendering only joins
strings. Imports no Flask.
"""

from .checks import BadTemplate, Rendered, check, render
from .grammar import FILTERS, TemplateSyntaxError, parse
from .service import SharingOff, TemplateService, TemplateStart, new_template_id

__all__ = [
    "FILTERS",
    "BadTemplate",
    "Rendered",
    "SharingOff",
    "TemplateService",
    "TemplateStart",
    "TemplateSyntaxError",
    "check",
    "new_template_id",
    "parse",
    "render",
]
