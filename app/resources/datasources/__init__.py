"""Projects and data sources (seed 002): projects with members, data sources of type file,
database and api materialised as tables, step scripts and sandboxed step jobs.

Projects live in this package too (they exist only to group data sources). docs/datasources.md
is the reference; ``tables.table_path(source)`` is how the rest of the server reads a table.
"""

from flask import Blueprint

from app.resources.root import document_relations, register_entries

bp = Blueprint("datasources", __name__)

RELATIONS = {
    "projects": (
        "Projects",
        ("GET", "POST"),
        "The projects the caller owns or is a member of (ADMINs: all).",
    ),
    "project": (
        "Project",
        ("GET", "PUT", "DELETE"),
        "One project: title, description, owner, members with roles editor/viewer.",
    ),
    "project/by-id": ("Project by id", ("GET",), "Templated link to one project."),
    "project/datasources": ("A project's data sources", ("GET",), "The data sources of one project."),
    "datasources": (
        "Data sources",
        ("GET", "POST"),
        "Every data source the caller may read; POST (multipart) creates one.",
    ),
    "datasource": (
        "Data source",
        ("GET", "PUT", "DELETE"),
        "One data source: type, status, file, meta_data {items, fields, preview}, columns.",
    ),
    "datasource/by-id": ("Data source by id", ("GET",), "Templated link to one data source."),
    "datasource/file": (
        "Data source file",
        ("GET",),
        "The source's data as a file (upload, fetched response or query rows as CSV).",
    ),
    "datasource/preview": (
        "Data source preview",
        ("GET",),
        "JSON: column names, types, null/min/max/distinct counts and the first rows.",
    ),
    "datasource/table": ("Data source table", ("GET",), "The materialised table as Parquet."),
    "datasource/scripts": (
        "Step scripts",
        ("GET",),
        "Built-in and uploaded step scripts of a source: [{key, body}].",
    ),
    "datasource/script": (
        "Step script",
        ("GET", "DELETE"),
        "One step script: key (builtin:… / upload:…) and body.",
    ),
    "datasource/jobs": ("Step jobs", ("GET",), "The step jobs of a data source."),
    "datasource-job": (
        "Step job",
        ("GET",),
        "One step job: status, per-step status, duration, exit status, log tails, result links.",
    ),
    "datasource-job/result": ("Step job result", ("GET",), "The job's final table as CSV."),
    "datasource-job/preview": ("Step job result preview", ("GET",), "The JSON preview of the job's result."),
    "datasource-job/table": ("Step job result table", ("GET",), "The job's final table as Parquet."),
    "projects/options": (
        "Projects query grammar",
        ("GET",),
        "Templated link showing every page, sort and filter variable of the projects collection.",
    ),
    "datasources/options": (
        "Data sources query grammar",
        ("GET",),
        "Templated link with every variable of a data-source collection.",
    ),
    "datasource/scripts/options": (
        "Scripts query grammar",
        ("GET",),
        "Templated link with every variable of the scripts collection.",
    ),
    "datasource/jobs/options": (
        "Step jobs query grammar",
        ("GET",),
        "Templated link with every variable of the step jobs collection.",
    ),
    "project/by-id/datasources": (
        "A project's data sources by project id",
        ("GET",),
        "Templated link to the data sources of one project.",
    ),
}

# The links of GET /: rel -> (endpoint, title, path variables of a templated link).
ENTRIES = {
    "ec:projects": ("datasources.projects", "Projects", None),
    "ec:project/by-id": ("datasources.get_project", "A project by id", {"project_id": "id"}),
    "ec:project/by-id/datasources": (
        "datasources.project_sources",
        "A project's data sources",
        {"project_id": "id"},
    ),
    "ec:datasources": ("datasources.sources", "Your data sources", None),
    "ec:datasource/by-id": ("datasources.get_source", "A data source by id", {"source_id": "id"}),
}


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.datasources import (  # noqa: F401
        views_projects,
        views_sources,
        views_steps,
    )

    app.register_blueprint(bp)
    register_entries(app, ENTRIES)
    document_relations(RELATIONS)
