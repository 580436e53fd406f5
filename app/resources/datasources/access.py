"""Who may see and change projects and data sources (docs/datasources.md, "Authorization").

Members (any role), the owner and ADMINs read a project and its sources; the owner and
ADMINs change the project; editors, the owner and ADMINs write its data sources, scripts
and jobs. Anything the caller may not read is a 404, never a 403.
"""

from sqlalchemy import select

from app.auth import current_account
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.resources.datasources.models import DataSource, Project, StepRun


def get_project_or_404(project_id):
    account = current_account()
    project = db.session.get(Project, project_id)
    if project is None or project.role_of(account) is None:
        raise NotFound("project")
    return project


def get_source_or_404(source_id):
    account = current_account()
    source = db.session.get(DataSource, source_id)
    if source is None or source.project.role_of(account) is None:
        raise NotFound("datasource")
    return source


def get_run_or_404(source, run_id):
    run = db.session.get(StepRun, run_id)
    if run is None or run.datasource_id != source.id:
        raise NotFound("datasourcejob")
    return run


def require_owner(project):
    if project.role_of(current_account()) != "owner":
        raise Forbidden("Only the project's owner or an ADMIN may change the project.")


def require_editor(project):
    if not project.can_edit_sources(current_account()):
        raise Forbidden("Only the project's owner, its editors or an ADMIN may change its data sources.")


def visible_projects(account):
    return select(Project).where(Project.id.in_(Project.visible_ids(account)))


def visible_sources(account):
    return select(DataSource).where(DataSource.project_id.in_(Project.visible_ids(account)))
