"""/datamanager/{id}/members/ and /datamanager/{id}/members/{accountID}: who holds which rights.

Any member may read the list; granting, changing and revoking need manageRights. A space
always keeps at least one member holding manageRights (409 otherwise).
"""

from sqlalchemy import select

from app.auth import login_required
from app.errors import BodyDidNotValidate, Conflict, NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, created, load_body, no_content, paginate, respond, url
from app.resources import choices
from app.resources.accounts.models import Account
from app.resources.datamanager import bp, schemas
from app.resources.datamanager.access import get_space_or_404, keep_a_manager, require
from app.resources.datamanager.models import Member, member_of
from app.resources.datamanager.openapi import MEMBER, DataManagerMemberSchema
from app.resources.datamanager.reads import AssetUrls
from app.resources.datamanager.schemas import member_create_schema, member_update_schema
from app.resources.datamanager.spaces import customer_href
from app.timeutil import rfc3339

members_collection = Collection(
    rel="ec:datamanager/members",
    item_rel="ec:datamanager/member",
    fields=[
        Field("accountID", Member.account_id, type="int", sortable=True),
        Field("created", Member.created, type="datetime", sortable=True),
    ],
    id_field="accountID",
    default_sort=("created",),
    tiebreak=Member.account_id,
    not_found=lambda: NotFound("member"),
)


def represent(member, can_manage):
    doc = Document(
        {"accountID": member.account_id, "rights": member.rights, "created": rfc3339(member.created)},
        self_href=url("datamanager.member", dm_id=member.datamanager_id, account_id=member.account_id),
    )
    doc.link("collection", url("datamanager.members", dm_id=member.datamanager_id))
    doc.link("ec:datamanager", AssetUrls(member.datamanager_id).datamanager)
    doc.link("ec:datamanager/member/account", customer_href(member.account_id))
    if can_manage:
        doc.template(
            "default",
            Template(
                method="PUT",
                title="Replace this member's rights",
                properties=properties_from_schema(member_update_schema),
            ),
        )
        doc.template("delete", Template(method="DELETE", title="Revoke this membership"))
    return doc


def get_member_or_404(dm_id, account_id):
    member = member_of(dm_id, account_id)
    if member is None:
        raise NotFound("member")
    return member


@bp.get("/datamanager/<uuid:dm_id>/members/")
@login_required
@api_doc(
    collection=members_collection,
    responses={200: page(DataManagerMemberSchema, "The members of the space and their rights")},
)
def members(dm_id):
    """The members of a space and their rights."""
    dm, rights = get_space_or_404(dm_id)
    can_manage = "manageRights" in rights
    grant = Template(
        method="POST",
        title="Grant rights to another account",
        properties=properties_from_schema(member_create_schema, options={"accountID": choices.users()}),
    )
    return paginate(
        members_collection,
        select(Member).where(Member.datamanager_id == dm.id),
        url("datamanager.members", dm_id=dm.id),
        lambda members: [represent(m, can_manage) for m in members],
        single=lambda member: represent(member, can_manage),
        links={"ec:datamanager": AssetUrls(dm.id).datamanager},
        templates={"default": grant} if can_manage else None,
    )


@bp.post("/datamanager/<uuid:dm_id>/members/")
@login_required
@api_doc(
    request=schemas.member_create_schema,
    responses={201: DataManagerMemberSchema},
    errors=(409,),
    description="Needs manageRights; 400 for an unknown account; 409 MEMBER_ALREADY_EXISTS.",
)
def add_member(dm_id):
    """Make another account a member with the given rights (needs manageRights)."""
    dm, rights = get_space_or_404(dm_id)
    require(rights, "manageRights")
    data = load_body(member_create_schema)
    if db.session.get(Account, data["accountID"]) is None:
        raise BodyDidNotValidate(errors={"accountID": ["No such account."]})
    if member_of(dm.id, data["accountID"]) is not None:
        raise Conflict(
            "That account is already a member; PUT its member resource instead.",
            event="MEMBER_ALREADY_EXISTS",
        )
    member = Member(datamanager_id=dm.id, account_id=data["accountID"])
    member.rights = data["rights"]
    db.session.add(member)
    db.session.commit()
    return created(represent(member, True))


@bp.get("/datamanager/<uuid:dm_id>/members/<int:account_id>")
@login_required
@api_doc(responses=MEMBER)
def member(dm_id, account_id):
    """One member's rights."""
    dm, rights = get_space_or_404(dm_id)
    return respond(represent(get_member_or_404(dm.id, account_id), "manageRights" in rights))


@bp.put("/datamanager/<uuid:dm_id>/members/<int:account_id>")
@login_required
@api_doc(
    request=schemas.member_update_schema,
    responses=MEMBER,
    errors=(409,),
    description="Needs manageRights; 409 LAST_RIGHTS_MANAGER.",
)
def update_member(dm_id, account_id):
    """Replace a member's rights (needs manageRights)."""
    dm, rights = get_space_or_404(dm_id)
    require(rights, "manageRights")
    member = get_member_or_404(dm.id, account_id)
    check_preconditions(represent(member, True))
    data = load_body(member_update_schema)
    keep_a_manager(dm.id, member, data["rights"])
    member.rights = data["rights"]
    db.session.commit()
    return respond(represent(member, True))


@bp.delete("/datamanager/<uuid:dm_id>/members/<int:account_id>")
@login_required
@api_doc(responses={204: None}, errors=(409,), description="Needs manageRights; 409 LAST_RIGHTS_MANAGER.")
def delete_member(dm_id, account_id):
    """Revoke a membership (needs manageRights)."""
    dm, rights = get_space_or_404(dm_id)
    require(rights, "manageRights")
    member = get_member_or_404(dm.id, account_id)
    check_preconditions(represent(member, True))
    keep_a_manager(dm.id, member, [])
    db.session.delete(member)
    db.session.commit()
    return no_content()
