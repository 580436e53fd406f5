"""/api/v1/projects/ and /api/v1/projects/{id}: projects with their members."""

from sqlalchemy import select

from app.auth import current_account, login_required
from app.errors import BodyDidNotValidate
from app.extensions import db
from app.hal import Collection, Document, Field, Property, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, created, load_body, no_content, paginate, respond, url
from app.resources import choices
from app.resources.accounts.models import Account
from app.resources.datasources import bp
from app.resources.datasources.access import get_project_or_404, require_owner, visible_projects
from app.resources.datasources.models import Project, ProjectMember
from app.resources.datasources.openapi import ProjectViewSchema
from app.resources.datasources.schemas import ProjectSchema, datasource_schema, project_schema
from app.resources.datasources.tables import discard
from app.timeutil import rfc3339

projects_collection = Collection(
    rel="ec:projects",
    item_rel="ec:project",
    fields=[
        Field("id", Project.id, type="int", sortable=True),
        Field("title", Project.title, sortable=True),
        Field("owner", Project.owner_id, type="int"),
        Field("created", Project.created, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-created",),
    tiebreak=Project.id,
)


def represent(project):
    role = project.role_of(current_account())
    doc = Document(
        {
            "id": project.id,
            "title": project.title,
            "description": project.description,
            "owner": project.owner_id,
            "members": [{"account": m.account_id, "role": m.role} for m in project.members],
            "role": role,
            "created": rfc3339(project.created),
            "updated": rfc3339(project.updated),
        },
        self_href=url("datasources.get_project", project_id=project.id),
    )
    doc.link("collection", url("datasources.projects"))
    doc.link("ec:project/datasources", url("datasources.project_sources", project_id=project.id))
    if role == "owner":
        # a full PUT: the form starts from every current value, the members too
        members = {"members": doc.properties["members"]}
        doc.template(
            "default",
            Template(method="PUT", properties=properties_from_schema(project_schema, values=members)),
        )
        doc.template("delete", Template(method="DELETE", properties=[]))
    if role in ("owner", "editor"):
        doc.template(
            "create-datasource",
            Template(
                method="POST",
                target=url("datasources.sources"),
                contentType="multipart/form-data",
                properties=_source_properties(project.id),
            ),
        )
    return doc


def _source_properties(project_id):
    """A new data source's fields, ``project`` prefilled with this project (on its own template)."""
    props = properties_from_schema(
        datasource_schema, options={"project": choices.projects()}, values={"project": project_id}
    )
    return props + [Property(name="file", type="file")]


def _apply(project, data):
    """Copy validated data onto the project; members replace the old list (400 for unknown accounts)."""
    ids = [m["account"] for m in data["members"]]
    known = set(db.session.scalars(select(Account.id).where(Account.id.in_(ids)))) if ids else set()
    missing = [i for i in ids if i not in known]
    if missing:
        raise BodyDidNotValidate(errors={"members": [f"No account with id {missing[0]}."]})
    project.title, project.description = data["title"], data["description"]
    project.members = [
        ProjectMember(account_id=m["account"], role=m["role"])
        for m in data["members"]
        if m["account"] != project.owner_id
    ]


@bp.get("/api/v1/projects/")
@login_required
@api_doc(
    collection=projects_collection,
    responses={200: page(ProjectViewSchema)},
    description="`id=<id>` answers that project itself instead of a page (404 when not visible).",
)
def projects():
    """The projects the caller owns or is a member of (ADMINs: all)."""
    return paginate(
        projects_collection,
        visible_projects(current_account()),
        url("datasources.projects"),
        lambda projects: [represent(p) for p in projects],
        single=represent,
        templates={"default": Template(method="POST", properties=properties_from_schema(project_schema))},
    )


@bp.post("/api/v1/projects/")
@login_required
@api_doc(
    request=ProjectSchema,
    responses={201: ProjectViewSchema},
    description="Members replace the list; an unknown account or one listed twice is 400 `members`.",
)
def create_project():
    """Create a project owned by the caller."""
    data = load_body(project_schema)
    project = Project(owner_id=current_account().id)
    _apply(project, data)
    db.session.add(project)
    db.session.commit()
    return created(represent(project))


@bp.get("/api/v1/projects/<int:project_id>")
@login_required
@api_doc(responses={200: ProjectViewSchema})
def get_project(project_id):
    """One project."""
    return respond(represent(get_project_or_404(project_id)))


@bp.put("/api/v1/projects/<int:project_id>")
@login_required
@api_doc(
    request=ProjectSchema,
    responses={200: ProjectViewSchema},
    description="Owner and ADMINs; members of the project get 403, everyone else 404.",
)
def update_project(project_id):
    """Replace title, description and members (owner and ADMINs)."""
    project = get_project_or_404(project_id)
    require_owner(project)
    data = load_body(project_schema)
    check_preconditions(represent(project))
    _apply(project, data)
    db.session.commit()
    return respond(represent(project))


@bp.delete("/api/v1/projects/<int:project_id>")
@login_required
@api_doc(
    responses={204: None},
    description="Owner and ADMINs; deletes its data sources, scripts, step jobs and stored files.",
)
def delete_project(project_id):
    """Delete the project, its data sources and every stored file of them."""
    project = get_project_or_404(project_id)
    require_owner(project)
    check_preconditions(represent(project))
    keys = [k for s in project.datasources for k in s.stored_keys() + _script_and_run_keys(s)]
    for source in list(project.datasources):
        db.session.delete(source)
    db.session.delete(project)
    db.session.commit()
    discard(keys)
    return no_content()


def _script_and_run_keys(source):
    return [s.body_key for s in source.scripts] + [k for r in source.runs for k in r.stored_keys()]
