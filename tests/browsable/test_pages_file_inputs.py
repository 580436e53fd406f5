"""A HAL-FORMS ``file`` property that takes several files is one ``<input type=file multiple>`` on the page.

(It used to fall into the "one per line" textarea branch meant for multi-valued text, so a browser could
not upload through the data manager's "Upload files" form.)
"""

from bs4 import BeautifulSoup


def test_a_multiple_file_property_is_a_file_input_with_multiple(client, user_headers):
    space = client.post("/datamanager/", json={"title": "Pictures"}, headers=user_headers).json
    page = client.get(f"/datamanager/{space['dataManagerID']}/assets/?format=html", headers=user_headers)
    assert page.status_code == 200 and page.mimetype == "text/html"
    form = BeautifulSoup(page.get_data(as_text=True), "html.parser").select_one(
        "form.hal-form[data-name=default]"
    )
    assert form["enctype"] == "multipart/form-data" and form["data-content-type"] == "multipart/form-data"
    picker = form.select_one("[name=file]")
    assert picker.name == "input" and picker["type"] == "file" and picker.has_attr("multiple")
    assert picker.has_attr("required") and form.select_one("textarea") is None
