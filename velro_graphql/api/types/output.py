"""Output: one produced file. URLs are signed when read, never stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from velro_graphql import entities
from velro_graphql.errors import BadUserInput

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

MIN_EXPIRY = 60
MAX_EXPIRY = 7 * 24 * 3600


@strawberry.type(description="One file a generation produced.")
class Output:
    position: int = strawberry.field(description="Its place among the outputs, from 0.")
    content_type: str | None = strawberry.field(
        description="Sniffed from the bytes, e.g. image/png."
    )
    width: int | None = strawberry.field(description="Pixels across (images and videos).")
    height: int | None = strawberry.field(description="Pixels down (images and videos).")
    byte_size: int | None = strawberry.field(description="The stored file size; null until stored.")
    duration_seconds: float | None = strawberry.field(
        description="A video's length; null for images."
    )
    sha256: str | None = strawberry.field(description="Hex digest of the stored bytes.")
    seed: str | None = strawberry.field(description="As text: provider seeds exceed 64 bits.")
    stored: bool = strawberry.field(
        description="False while the file is only at the provider (its URL expires); "
        "a background copy keeps trying."
    )
    nsfw: bool = strawberry.field(description="The provider flagged it as unsafe.")
    entity: strawberry.Private[entities.Output]

    @classmethod
    def from_entity(cls, output: entities.Output) -> Output:
        return cls(
            position=output.position,
            content_type=output.content_type,
            width=output.width,
            height=output.height,
            byte_size=output.byte_size,
            duration_seconds=output.duration_seconds,
            sha256=output.sha256,
            seed=output.seed,
            stored=output.stored,
            nsfw=output.nsfw,
            entity=output,
        )

    @strawberry.field(description="A signed URL, valid for expiresIn seconds (default 1 hour).")
    async def url(
        self, info: strawberry.Info[Context], expires_in: int | None = None
    ) -> str | None:
        if self.entity.path is None:
            return self.entity.provider_url
        assert self.entity.bucket is not None
        return await info.context.sign(self.entity.bucket, self.entity.path, expires_in)

    @strawberry.field(description="A signed URL of the WebP thumbnail of that size (256 or 512).")
    async def thumbnail_url(
        self, info: strawberry.Info[Context], size: int = 256, expires_in: int | None = None
    ) -> str | None:
        for thumb in self.entity.thumbnails:
            if thumb["size"] == size:
                return await info.context.sign(thumb["bucket"], thumb["path"], expires_in)
        return None


def check_expiry(expires_in: int | None, default: int) -> int:
    if expires_in is None:
        return default
    if not MIN_EXPIRY <= expires_in <= MAX_EXPIRY:
        raise BadUserInput(
            f"expiresIn must be between {MIN_EXPIRY} and {MAX_EXPIRY} seconds.", field="expiresIn"
        )
    return expires_in
