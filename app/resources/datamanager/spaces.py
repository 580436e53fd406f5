"""GET/POST /datamanager/ and GET/PUT /datamanager/{dataManagerID}: Data Manager spaces."""

from app.auth import current_account, login_required
from app.errors import NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Link, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, created, load_body, paginate, respond, url
from app.resources.datamanager import bp, schemas
from app.resources.datamanager.access import (
    get_space_or_404,
    keep_a_manager,
    require,
    rights_by_space,
    visible_spaces,
)
from app.resources.datamanager.models import RIGHTS, DataManager, Member, member_of
from app.resources.datamanager.openapi import SPACE, DataManagerSpaceSchema
from app.resources.datamanager.reads import AssetUrls
from app.resources.datamanager.schemas import datamanager_create_schema, datamanager_update_schema
from app.resources.root import url_template
from app.timeutil import rfc3339

spaces_collection = Collection(
    rel="ec:datamanagers",
    item_rel="ec:datamanager",
    fields=[
        Field("dataManagerID", DataManager.id, type="uuid"),
        Field("title", DataManager.title, sortable=True),
        Field("description", DataManager.description),
        Field("created", DataManager.created, type="datetime", sortable=True),
    ],
    id_field="dataManagerID",
    default_sort=("created",),
    tiebreak=DataManager.id,
    not_found=lambda: NotFound("datamanager"),
)


def customer_href(account_id):
    """The owning account (the accounts domain's user resource)."""
    return url("accounts.get_user", user_id=account_id)


def represent(dm, rights):
    """An ``ec:datamanager`` with the caller's ``rights`` and the templates those rights allow."""
    urls = AssetUrls(dm.id)
    doc = Document(
        {
            "dataManagerID": str(dm.id),
            "title": dm.title,
            "description": dm.description,
            "rights": rights,
            "created": rfc3339(dm.created),
        },
        self_href=urls.datamanager,
    )
    doc.link("collection", url("datamanager.index"))
    doc.link("ec:assets", urls.assets)
    doc.link("ec:assets/deleted", urls.deleted)
    doc.link("ec:datamanager/members", url("datamanager.members", dm_id=dm.id))
    if dm.owner_id is not None:
        doc.link("ec:customer", customer_href(dm.owner_id))
    if "manageRights" in rights:
        doc.template(
            "default",
            Template(
                method="PUT",
                title="Edit this space and your rights in it",
                properties=properties_from_schema(datamanager_update_schema),
            ),
        )
    return doc


@bp.get("/datamanager/")
@login_required
@api_doc(
    collection=spaces_collection,
    responses={200: page(DataManagerSpaceSchema, "The spaces the caller is a member of (ADMINs: all)")},
)
def index():
    """The spaces the caller is a member of (ADMINs: all)."""
    account = current_account()

    def items(spaces):
        rights = rights_by_space(account, spaces)
        return [represent(dm, rights[dm.id]) for dm in spaces]

    return paginate(
        spaces_collection,
        visible_spaces(account),
        url("datamanager.index"),
        items,
        single=lambda dm: items([dm])[0],
        links={
            "ec:datamanager/by-id": Link(
                url_template("datamanager.get", {"dm_id": "dataManagerID"}), templated=True
            )
        },
        templates={
            "default": Template(
                method="POST",
                title="Create a space",
                properties=properties_from_schema(datamanager_create_schema),
            )
        },
    )


@bp.post("/datamanager/")
@login_required
@api_doc(
    request=schemas.datamanager_create_schema,
    responses={201: DataManagerSpaceSchema},
    description="The creator owns the space and holds every right.",
)
def create():
    """Create a space; the creator owns it and holds every right."""
    data = load_body(datamanager_create_schema)
    account = current_account()
    dm = DataManager(title=data["title"], description=data["description"], owner_id=account.id)
    member = Member(account_id=account.id)
    member.rights = RIGHTS
    dm.members.append(member)
    db.session.add(dm)
    db.session.commit()
    return created(represent(dm, member.rights))


@bp.get("/datamanager/<uuid:dm_id>")
@login_required
@api_doc(
    responses=SPACE, description="404 COULD_NOT_FIND_DATAMANAGER for a space the caller is not a member of."
)
def get(dm_id):
    """One space with the caller's rights."""
    dm, rights = get_space_or_404(dm_id)
    return respond(represent(dm, rights))


@bp.put("/datamanager/<uuid:dm_id>")
@login_required
@api_doc(
    request=schemas.datamanager_update_schema,
    responses=SPACE,
    errors=(409,),
    description="Needs manageRights (403 DATAMANAGER_RIGHT_MISSING); 409 LAST_RIGHTS_MANAGER "
    "when giving up manageRights would leave nobody holding it.",
)
def update(dm_id):
    """Change title, description and the caller's own rights (needs manageRights)."""
    dm, rights = get_space_or_404(dm_id)
    require(rights, "manageRights")
    check_preconditions(represent(dm, rights))
    data = load_body(datamanager_update_schema)
    if "rights" in data:
        account = current_account()
        member = member_of(dm.id, account.id)
        keep_a_manager(dm.id, member, data["rights"])
        if member is None:  # an ADMIN without a membership row
            member = Member(datamanager_id=dm.id, account_id=account.id)
            db.session.add(member)
        member.rights = data["rights"]
        rights = data["rights"] if not account.is_admin else rights
    for key in ("title", "description"):
        if key in data:
            setattr(dm, key, data[key])
    db.session.commit()
    return respond(represent(dm, rights))
