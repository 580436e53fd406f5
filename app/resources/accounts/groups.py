"""Groups (seed 003): /api/v1/group/, /api/v1/group/{id}/, …/{id}/members/ and …/members/{user_id}/."""

from sqlalchemy import select

from app.auth import admin_required, current_account, login_required
from app.errors import Conflict, NotFound
from app.extensions import db
from app.hal import Collection, Field
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, created, load_body, no_content, paginate, respond, url
from app.resources.accounts import bp, schemas
from app.resources.accounts.models import Group, membership_filter
from app.resources.accounts.openapi import GROUP, AccountGroupSchema
from app.resources.accounts.represent import (
    get_group_or_404,
    get_user_or_404,
    group_form,
    represent_group,
    visible_groups,
)
from app.resources.accounts.schemas import group_schema, member_schema

groups_collection = Collection(
    rel="ec:groups",
    item_rel="ec:group",
    fields=[
        Field("id", Group.id, type="int", sortable=True),
        Field("name", Group.name, sortable=True),
        Field("member", type="int", range=False, filter=membership_filter("group")),
        Field("created", Group.created, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("name",),
    tiebreak=Group.id,
)


class GroupNameTaken(Conflict):
    event = "GROUP_NAME_TAKEN"
    description = "A group with this name exists already."


def _check_name_free(name, group_id=None):
    existing = db.session.scalar(select(Group.id).where(Group.name == name))
    if existing is not None and existing != group_id:
        raise GroupNameTaken(errors={"name": ["A group with this name exists already."]})


@bp.get("/api/v1/group/")
@login_required
@api_doc(
    collection=groups_collection, responses={200: page(AccountGroupSchema, "The groups the caller may see")}
)
def list_groups():
    """Groups the caller may see, with the collection grammar."""
    viewer = current_account()
    return paginate(
        groups_collection,
        visible_groups(viewer),
        url("accounts.list_groups"),
        lambda groups: [represent_group(g, viewer) for g in groups],
        single=lambda group: represent_group(group, viewer),
        templates={"default": group_form()} if viewer.is_admin else None,
    )


@bp.post("/api/v1/group/")
@admin_required
@api_doc(
    auth="admin",
    request=schemas.group_schema,
    responses={201: AccountGroupSchema},
    errors=(409,),
    description="409 GROUP_NAME_TAKEN.",
)
def create_group():
    """ADMIN: create a group (201)."""
    data = load_body(group_schema)
    _check_name_free(data["name"])
    group = Group(name=data["name"])
    db.session.add(group)
    db.session.commit()
    return created(represent_group(group, current_account()))


@bp.get("/api/v1/group/<int:group_id>/")
@login_required
@api_doc(responses=GROUP)
def get_group(group_id):
    """One group, its members as links."""
    viewer = current_account()
    return respond(represent_group(get_group_or_404(group_id, viewer), viewer))


@bp.put("/api/v1/group/<int:group_id>/")
@admin_required
@api_doc(
    auth="admin",
    request=schemas.group_schema,
    responses=GROUP,
    errors=(409,),
    description="409 GROUP_NAME_TAKEN.",
)
def rename_group(group_id):
    """ADMIN: rename a group."""
    viewer = current_account()
    group = get_group_or_404(group_id, viewer)
    data = load_body(group_schema)
    check_preconditions(represent_group(group, viewer))
    _check_name_free(data["name"], group.id)
    group.name = data["name"]
    db.session.commit()
    return respond(represent_group(group, viewer))


@bp.delete("/api/v1/group/<int:group_id>/")
@admin_required
@api_doc(auth="admin", responses={204: None})
def delete_group(group_id):
    """ADMIN: delete a group (its memberships go with it)."""
    viewer = current_account()
    group = get_group_or_404(group_id, viewer)
    check_preconditions(represent_group(group, viewer))
    db.session.delete(group)
    db.session.commit()
    return no_content()


@bp.post("/api/v1/group/<int:group_id>/members/")
@admin_required
@api_doc(
    auth="admin",
    request=schemas.member_schema,
    responses=GROUP,
    description="Idempotent; answers 200 with the group. 404 for an unknown account.",
)
def add_member(group_id):
    """ADMIN: add an account to a group (idempotent); answers with the group."""
    viewer = current_account()
    group = get_group_or_404(group_id, viewer)
    data = load_body(member_schema)
    account = get_user_or_404(data["user_id"], viewer)
    if account not in group.members:
        group.members.append(account)
    db.session.commit()
    return respond(represent_group(group, viewer))


@bp.delete("/api/v1/group/<int:group_id>/members/<int:user_id>/")
@admin_required
@api_doc(auth="admin", responses={204: None}, description="404 when the account is not a member.")
def remove_member(group_id, user_id):
    """ADMIN: remove an account from a group (204; 404 when it is not a member)."""
    viewer = current_account()
    group = get_group_or_404(group_id, viewer)
    account = get_user_or_404(user_id, viewer)
    if account not in group.members:
        raise NotFound("membership")
    group.members.remove(account)
    db.session.commit()
    return no_content()
