"""Upload: a picture a user sends straight to storage, checked before anything uses it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from velro_graphql import entities
from velro_graphql.api.types.relay import Node, to_global_id
from velro_graphql.entities import UploadStatus as UploadStatus

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

strawberry.enum(UploadStatus, description="PENDING until completeUpload checks the stored file.")


@strawberry.enum(description="What an uploaded picture is for.")
class UploadPurpose(Enum):
    REFERENCE_IMAGE = "REFERENCE_IMAGE"
    AVATAR = "AVATAR"


@strawberry.type(description="A picture sent with `PUT uploadUrl`, then checked by completeUpload.")
class Upload(Node):
    id: strawberry.ID = strawberry.field(description="Global id.")
    status: UploadStatus = strawberry.field(description="PENDING, READY or REJECTED.")
    purpose: UploadPurpose = strawberry.field(description="REFERENCE_IMAGE or AVATAR.")
    upload_url: str | None = strawberry.field(
        description="Where to PUT the bytes (with uploadHeaders); given by createUpload only."
    )
    upload_headers: JSON | None = strawberry.field(
        description="The headers the PUT must carry, as a JSON object."
    )
    expires_at: datetime = strawberry.field(description="When uploadUrl stops taking the PUT.")
    filename: str = strawberry.field(description="The name the client gave.")
    content_type: str = strawberry.field(description="The declared, then checked, type.")
    byte_size: int = strawberry.field(description="Declared size; the stored size once READY.")
    width: int | None = strawberry.field(description="Pixels across, once READY.")
    height: int | None = strawberry.field(description="Pixels down, once READY.")
    error: str | None = strawberry.field(description="Why the file was REJECTED.")
    created_at: datetime = strawberry.field(description="When createUpload made it.")
    entity: strawberry.Private[entities.Upload]

    @classmethod
    def from_entity(
        cls, upload: entities.Upload, *, url: str | None = None, headers: object = None
    ) -> Upload:
        return cls(
            id=to_global_id("Upload", upload.id),
            status=UploadStatus(upload.status),
            purpose=UploadPurpose(upload.purpose),
            upload_url=url,
            upload_headers=cast(JSON, headers),
            expires_at=upload.upload_expires_at,
            filename=upload.filename,
            content_type=upload.content_type,
            byte_size=upload.byte_size,
            width=upload.width,
            height=upload.height,
            error=upload.error_message,
            created_at=upload.created_at,
            entity=upload,
        )

    @strawberry.field(description="A signed URL of the READY file, valid for expiresIn seconds.")
    async def url(
        self, info: strawberry.Info[Context], expires_in: int | None = None
    ) -> str | None:
        if self.entity.status != UploadStatus.READY:
            return None
        return await info.context.sign(self.entity.bucket, self.entity.path, expires_in)


async def load_upload(context: Context, id_: UUID | None) -> Upload | None:
    if id_ is None:
        return None
    found = await context.loaders.upload_by_id.load(id_)
    return Upload.from_entity(found) if found else None
