"""GET/POST /api/v1/actions/ and GET/PUT /api/v1/actions/{action_id}: the schemas objects follow."""

from app.auth import current_account, login_required
from app.errors import BodyDidNotValidate, Forbidden
from app.extensions import db
from app.hal import Collection, Document, Field, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import (
    check_preconditions,
    created,
    load_body,
    paginate,
    respond,
    url,
    wants_templates,
)
from app.resources.objects import bp, schemas
from app.resources.objects.access import get_action_or_404, user_href, visible_actions
from app.resources.objects.models import Action
from app.resources.objects.openapi import ACTION, ObjectActionSchema
from app.resources.objects.schemas import action_schema
from app.resources.objects.schemas_sampledb import ACTION_TYPES, check_schema

actions_collection = Collection(
    rel="ec:actions",
    item_rel="ec:action",
    fields=[
        Field("action_id", Action.id, type="int", sortable=True),
        Field("type", Action.type, type="enum", choices=ACTION_TYPES, sortable=True),
        Field("name", Action.name, sortable=True),
        Field("is_hidden", Action.is_hidden, type="bool"),
        Field("user_id", Action.user_id, type="int"),
    ],
    id_field="action_id",
    default_sort=("action_id",),
    tiebreak=Action.id,
)


def represent(action, account, *, with_templates=True):
    doc = Document(
        {
            "action_id": action.id,
            "type": action.type,
            "name": action.name,
            "description": action.description,
            "schema": action.schema,
            "is_hidden": action.is_hidden,
            "user_id": action.user_id,
        },
        self_href=url("objects.action_get", action_id=action.id),
    )
    doc.link("collection", url("objects.actions_index"))
    doc.link("ec:objects", url("objects.objects_index", action_id=action.id))
    if action.user_id is not None:
        doc.link("ec:user", user_href(action.user_id))
    if with_templates and action.writable_by(account):
        doc.template(
            "default",
            Template(
                method="PUT",
                title="Replace this action",
                # a full PUT: the form starts from every current value, the schema too
                properties=properties_from_schema(action_schema, values={"schema": action.schema}),
            ),
        )
    return doc


def checked_action_body():
    """The validated body; 400 naming every schema violation with its path."""
    data = load_body(action_schema)
    violations = check_schema(data["schema"])
    if violations:
        raise BodyDidNotValidate(
            "The action's schema is not valid.", errors={"schema": [str(v) for v in violations]}
        )
    return data


@bp.get("/api/v1/actions/")
@login_required
@api_doc(
    collection=actions_collection,
    responses={200: page(ObjectActionSchema, "The actions the caller may read")},
)
def actions_index():
    """The actions the caller may read, with the query grammar."""
    account = current_account()
    return paginate(
        actions_collection,
        visible_actions(account),
        url("objects.actions_index"),
        lambda actions: [represent(a, account, with_templates=wants_templates()) for a in actions],
        single=lambda action: represent(action, account),
        links={"up": url("root.index")},
        templates={
            "default": Template(
                method="POST", title="Create an action", properties=properties_from_schema(action_schema)
            )
        },
    )


@bp.post("/api/v1/actions/")
@login_required
@api_doc(
    request=schemas.action_schema,
    responses={201: ObjectActionSchema},
    description="400 names every violation of the SampleDB schema with its path.",
)
def actions_create():
    """Create an action; the caller becomes its creator."""
    data = checked_action_body()
    action = Action(**data, user_id=current_account().id)
    db.session.add(action)
    db.session.commit()
    return created(represent(action, current_account()))


@bp.get("/api/v1/actions/<int:action_id>")
@login_required
@api_doc(
    responses=ACTION,
    description="Hidden actions are visible to their creator and ADMINs only (404 for others).",
)
def action_get(action_id):
    """One action."""
    return respond(represent(get_action_or_404(action_id), current_account()))


@bp.put("/api/v1/actions/<int:action_id>")
@login_required
@api_doc(
    request=schemas.action_schema,
    responses=ACTION,
    description="ADMINs and the action's creator (403 for other readers).",
)
def action_put(action_id):
    """Replace an action (ADMINs and its creator); existing versions keep the schema they were written
    with."""
    account = current_account()
    action = get_action_or_404(action_id)
    if not action.writable_by(account):
        raise Forbidden("Only ADMINs and the action's creator may change it.")
    check_preconditions(represent(action, account))
    for key, value in checked_action_body().items():
        setattr(action, key, value)
    db.session.commit()
    return respond(represent(action, account))
