"""Test data for the data manager tests: small real files of every asset type, and request helpers."""

import io
import os
import random
import struct
import wave
import zipfile

import pytest
from PIL import Image

HAL_FORMS = {"Accept": "application/prs.hal-forms+json"}


def png(width=7, height=5):
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "PNG")
    return out.getvalue()


def jpeg(width=9, height=4):
    out = io.BytesIO()
    Image.new("RGB", (width, height), "blue").save(out, "JPEG")
    return out.getvalue()


def wav():
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    return out.getvalue()


def mp4():
    """An ISO base media header: ftyp (isom), free and an empty mdat box."""
    ftyp = b"ftypisom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    return (
        struct.pack(">I", 8 + len(ftyp))
        + ftyp
        + struct.pack(">I", 8)
        + b"free"
        + struct.pack(">I", 16)
        + b"mdat"
        + b"\0" * 8
    )


def webm():
    """An EBML header with DocType "webm"."""
    return (
        bytes.fromhex("1a45dfa39f4286810142f7810142f2810442f381084282847765626d4287810442858102") + b"\0" * 64
    )


def pdf():
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n"
        b"<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def xlsx():
    """The smallest OOXML workbook package libmagic recognises."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


def csv():
    return b"name,age,city\nalice,30,berlin\nbob,25,paris\ncarol,41,rome\n"


def generic(size=300):
    """Bytes with no known signature: a fixed seeded stream behind a NUL byte.

    Random bytes are not enough: one run in 65,536 starts with "MZ" and libmagic calls it
    application/x-dosexec (CI saw it)."""
    return b"\0" + random.Random(size).randbytes(size - 1)


@pytest.fixture
def config_overrides(tmp_path, request):
    """A private storage root per test (so "no orphan file" can be checked), plus any indirect params."""
    return {"HALYARD_STORAGE_ROOT": str(tmp_path / "files"), **getattr(request, "param", {})}


def stored_files(app):
    """Every file under the storage root (temporary upload files included)."""
    root = app.config["HALYARD_STORAGE_ROOT"]
    return sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)


def create_space(client, headers, title="Space", description="A space"):
    r = client.post("/datamanager/", json={"title": title, "description": description}, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def upload(client, href, headers, *files, status=201, **form):
    """POST multipart ``file`` parts (``(bytes, name)`` pairs, or (bytes, name, client content-type))."""
    data = {
        "file": [(io.BytesIO(f[0]), f[1], *(f[2:] or ("application/octet-stream",))) for f in files],
        **form,
    }
    r = client.post(href, data=data, headers=headers, content_type="multipart/form-data")
    assert r.status_code == status, r.get_json()
    return r


def make_asset(client, space, headers, content=None, name="pic.png"):
    r = upload(client, space["_links"]["ec:assets"]["href"], headers, (content or png(), name))
    return client.get(r.headers["Location"], headers=headers).get_json()


def count_rows(*models):
    from sqlalchemy import func, select

    from app.extensions import db

    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in models)


def grant(client, space, headers, account, rights):
    r = client.post(
        space["_links"]["ec:datamanager/members"]["href"],
        headers=headers,
        json={"accountID": account.id, "rights": rights},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()
