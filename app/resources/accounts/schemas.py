"""Request bodies of the accounts domain; unknown fields are rejected (marshmallow's RAISE)."""

from marshmallow import Schema, ValidationError, fields, validate

from app.inputs import int32
from app.resources.accounts.models import ACCOUNT_TYPES, SCOPES

# Seed 000's wording for a missing field.
REQUIRED = {"required": "This field is required.", "null": "This field may not be null."}


class RequestUUID(fields.UUID):
    """A UUID whose error message quotes the bad value, as seed 000 shows."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            shown = str(value)[:64]
            raise ValidationError(f'"{shown}" is not a valid UUID.') from None


def required(field_class, *args, **kwargs):
    return field_class(*args, required=True, error_messages=REQUIRED, **kwargs)


class AttachAccountSchema(Schema):
    code = required(
        fields.String,
        validate=validate.Length(min=1, max=16384),
        metadata={"prompt": "Password (or ID token when sign-in uses OpenID Connect)"},
    )
    email = required(fields.Email, validate=validate.Length(max=320))
    request_uuid = required(RequestUUID)


class AuthTokenRequestSchema(Schema):
    request_uuid = required(RequestUUID)


class UserTokenSchema(Schema):
    """POST /api/v1/user/token/ (seed 003)."""

    email = required(fields.Email, validate=validate.Length(max=320))


class UserUpdateSchema(Schema):
    """PATCH /api/v1/user/{id}/ (ADMIN): every field optional."""

    username = fields.String(allow_none=True, validate=validate.Regexp(r"^[\w.@+-]{1,150}$"))
    type = fields.String(validate=validate.OneOf(ACCOUNT_TYPES))
    active = fields.Boolean()


class PasswordChangeSchema(Schema):
    current_password = fields.String(
        validate=validate.Length(max=1024),
        metadata={"prompt": "Current password (not needed when you have none)"},
    )
    new_password = required(fields.String, validate=validate.Length(min=8, max=1024))


class GroupSchema(Schema):
    name = required(
        fields.String,
        validate=[
            validate.Length(min=1, max=150),
            validate.Regexp(r"^\S(.*\S)?$", error="No leading or trailing spaces."),
        ],
    )


class GroupMemberSchema(Schema):
    user_id = required(fields.Integer, strict=True, validate=int32(1))


class NewTokenSchema(Schema):
    """POST /api/v1/user/{id}/tokens/: a named token, optionally expiring."""

    name = fields.String(load_default="api", validate=validate.Length(min=1, max=100))
    ttl_seconds = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=60, max=10 * 365 * 86400)
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(SCOPES)),
        validate=validate.Length(min=1, max=len(SCOPES)),
        metadata={"description": "What the token may do (default: every scope of the credential used)."},
    )


attach_account_schema = AttachAccountSchema()
auth_token_request_schema = AuthTokenRequestSchema()
user_token_schema = UserTokenSchema()
user_update_schema = UserUpdateSchema()
password_change_schema = PasswordChangeSchema()
group_schema = GroupSchema()
member_schema = GroupMemberSchema()
new_token_schema = NewTokenSchema()
