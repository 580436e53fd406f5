"""Who may do what in a space: membership (read) and the five rights (write).

A space the caller is not a member of is a 404 (``COULD_NOT_FIND_DATAMANAGER``), exactly
like one that does not exist; a member lacking a right gets 403. ADMIN accounts hold every
right in every space without a membership row. ``rights_or_404`` is that rule, the one door every
check goes through: reads ask ``get_access_or_404`` (one indexed Core statement, no ORM objects), one asset
asks ``reads.asset_or_404`` (the membership joined to the asset's own statement), writes ask
``get_space_or_404`` for the ``DataManager`` they change.
"""

from sqlalchemy import and_, bindparam, func, select

from app.auth import current_principal
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import core_connection, db
from app.fastread import FastRead
from app.resources.datamanager.models import RIGHTS, DataManager, Member

_members, _spaces = Member.__table__, DataManager.__table__
RIGHT_COLUMNS = [_members.c[column] for column in Member.COLUMNS.values()]
_SPACE_RIGHTS = FastRead(
    select(_spaces.c.id, _members.c.account_id, _spaces.c.assets_generation, *RIGHT_COLUMNS)
    .select_from(_spaces)
    .outerjoin(
        _members,
        and_(_members.c.datamanager_id == _spaces.c.id, _members.c.account_id == bindparam("account_id")),
    )
    .where(_spaces.c.id == bindparam("dm_id"))
)


def rights_or_404(member_id, values, principal):
    """The rights the caller holds in an existing space (a list, in ``RIGHTS`` order), from its
    membership row (``member_id`` None: no row) and that row's right columns ``values``; 404 for a
    caller who may not read the space, as for a space that does not exist."""
    if principal.is_admin:
        return list(RIGHTS)
    if member_id is None:
        raise NotFound("datamanager")
    return [right for right, held in zip(RIGHTS, values, strict=False) if held]


def get_access_or_404(dm_id):
    """The caller's rights in space ``dm_id`` (a list) and the space's ``assets_generation``, in one
    indexed query; 404 like ``get_space_or_404``."""
    principal = current_principal()
    row = _SPACE_RIGHTS.first(core_connection(), {"dm_id": dm_id, "account_id": principal.id})
    if row is None:
        raise NotFound("datamanager")
    return rights_or_404(row.account_id, row[-len(RIGHT_COLUMNS) :], principal), row.assets_generation


def get_space_or_404(dm_id):
    """The space ``dm_id`` (the ORM object a write changes) and the caller's rights there (a list), or
    404, in one query."""
    principal = current_principal()
    row = db.session.execute(
        select(DataManager, _members.c.account_id, *RIGHT_COLUMNS)
        .outerjoin(
            _members, and_(_members.c.datamanager_id == DataManager.id, _members.c.account_id == principal.id)
        )
        .where(DataManager.id == dm_id)
    ).first()
    if row is None:
        raise NotFound("datamanager")
    return row[0], rights_or_404(row[1], row[2:], principal)


def visible_spaces(account):
    """SELECT of the spaces ``account`` may read (restricts list and COUNT alike)."""
    stmt = select(DataManager)
    if account.is_admin:
        return stmt
    return stmt.join(Member, and_(Member.datamanager_id == DataManager.id, Member.account_id == account.id))


def rights_by_space(account, spaces):
    """{space id: the account's rights} for a page of spaces, in one query."""
    if account.is_admin:
        return {dm.id: list(RIGHTS) for dm in spaces}
    rows = db.session.scalars(
        select(Member).where(
            Member.account_id == account.id, Member.datamanager_id.in_([dm.id for dm in spaces])
        )
    )
    return {m.datamanager_id: m.rights for m in rows}


def require(rights, right):
    """403 unless ``right`` is among the caller's ``rights``."""
    if right not in rights:
        raise Forbidden(
            f"You need the {right} right in this space.",
            event="DATAMANAGER_RIGHT_MISSING",
            missing_right=right,
        )


def keep_a_manager(dm_id, member, new_rights):
    """409 when a change would leave the space without any member holding manageRights."""
    if member is None or not member.manage_rights or "manageRights" in new_rights:
        return
    others = db.session.scalar(
        select(func.count())
        .select_from(Member)
        .where(
            Member.datamanager_id == dm_id,
            Member.manage_rights.is_(True),
            Member.account_id != member.account_id,
        )
    )
    if not others:
        raise Conflict("A space keeps at least one member holding manageRights.", event="LAST_RIGHTS_MANAGER")
