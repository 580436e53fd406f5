"""Where a form field that takes another resource's id picks it from (HAL-FORMS ``options.link``).

One function per kind of resource: the collection a client lists, which property of its items to
show (``promptField``) and which to send (``valueField``). Templates pass them to
``properties_from_schema(..., options={field: choices.users()})`` (docs/browsable.md).
"""

from app.hal import OptionsLink
from app.representation import url


def users():
    return OptionsLink(url("accounts.list_users"), promptField="email", valueField="id")


def groups():
    return OptionsLink(url("accounts.list_groups"), promptField="name", valueField="id")


def actions():
    return OptionsLink(url("objects.actions_index"), promptField="name", valueField="action_id")


def projects():
    return OptionsLink(url("datasources.projects"), promptField="title", valueField="id")


def datasources():
    return OptionsLink(url("datasources.sources"), promptField="name", valueField="id")


def catalogue_items():
    # the list answers only with its ``query`` (words of the name); an empty query matches every item
    return OptionsLink(url("catalogue.index", query=""), promptField="name", valueField="id")
