"""Mutations on uploads and the profile: thin wrappers over the upload and user services."""

from __future__ import annotations

import strawberry

from velro_graphql.api.context import Context
from velro_graphql.api.resolvers.project_mutations import attempt
from velro_graphql.api.types.payloads import UserError, user_errors
from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.api.types.upload import Upload, UploadPurpose
from velro_graphql.api.types.user import User
from velro_graphql.services import uploads, users
from velro_graphql.services.uploads import Completed, CreatedUpload

Info = strawberry.Info[Context]


@strawberry.input(description="A picture about to be uploaded.")
class CreateUploadInput:
    filename: str = strawberry.field(description="The picture's file name.")
    content_type: str = strawberry.field(description="image/jpeg, image/png or image/webp.")
    byte_size: int = strawberry.field(description="At most MAX_UPLOAD_BYTES (default 20 MB).")
    purpose: UploadPurpose = strawberry.field(
        default=UploadPurpose.REFERENCE_IMAGE, description="REFERENCE_IMAGE (default) or AVATAR."
    )


@strawberry.input(description="One of the caller's uploads.")
class UploadIdInput:
    id: strawberry.ID = strawberry.field(description="The upload's global id.")


@strawberry.input(description="Profile fields to change; null ones stay.")
class UpdateProfileInput:
    display_name: str | None = strawberry.field(
        default=None, description="1-100 characters; null leaves it."
    )
    avatar_upload_id: strawberry.ID | None = strawberry.field(
        default=None, description="A READY upload of purpose AVATAR."
    )


@strawberry.type(description="The upload, or why not.")
class UploadPayload:
    upload: Upload | None = strawberry.field(default=None, description="The upload; null on error.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input."
    )


@strawberry.type(description="The deleted upload's id, or why not.")
class DeleteUploadPayload:
    deleted_upload_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted upload's id."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input."
    )


@strawberry.type(description="The updated profile, or why not.")
class UpdateProfilePayload:
    user: User | None = strawberry.field(
        default=None, description="The updated profile; null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input."
    )


def _created(created: CreatedUpload | None, errors: list[UserError]) -> UploadPayload:
    if created is None:
        return UploadPayload(user_errors=errors)
    signed = created.signed
    upload = Upload.from_entity(created.upload, url=signed.url, headers=signed.headers)
    return UploadPayload(upload=upload, user_errors=errors)


def _completed(completed: Completed | None, errors: list[UserError]) -> UploadPayload:
    if completed is None:
        return UploadPayload(user_errors=errors)
    problem = user_errors(completed.problem) if completed.problem else []
    return UploadPayload(upload=Upload.from_entity(completed.upload), user_errors=problem)


@strawberry.type
class UploadMutation:
    @strawberry.mutation(description="Stage an upload: returns the signed URL to PUT it to.")
    async def create_upload(self, info: Info, input: CreateUploadInput) -> UploadPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        created, errors = await attempt(
            lambda: uploads.create_upload(
                rt,
                caller,
                filename=input.filename,
                content_type=input.content_type,
                byte_size=input.byte_size,
                purpose=input.purpose.value,
            )
        )
        return _created(created, errors)

    @strawberry.mutation(description="Check the uploaded file: READY, or REJECTED with why.")
    async def complete_upload(self, info: Info, input: UploadIdInput) -> UploadPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        completed, errors = await attempt(
            lambda: uploads.complete_upload(rt, caller, expect_global_id(input.id, "Upload"))
        )
        return _completed(completed, errors)

    @strawberry.mutation(description="Delete an upload no generation was made from.")
    async def delete_upload(self, info: Info, input: UploadIdInput) -> DeleteUploadPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        _, errors = await attempt(
            lambda: uploads.delete_upload(rt, caller, expect_global_id(input.id, "Upload"))
        )
        return DeleteUploadPayload(
            deleted_upload_id=None if errors else input.id, user_errors=errors
        )

    @strawberry.mutation(description="Change the caller's display name and avatar.")
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        ctx = info.context
        avatar = input.avatar_upload_id
        profile, errors = await attempt(
            lambda: users.update_profile(
                ctx.services.pool,
                ctx.caller,
                display_name=input.display_name,
                avatar_upload_id=expect_global_id(avatar, "Upload", field="avatarUploadId")
                if avatar is not None
                else None,
            )
        )
        return UpdateProfilePayload(
            user=User.from_entity(profile) if profile else None, user_errors=errors
        )
