"""Request bodies are capped before they are read.

1. A view that takes files names the setting that holds its limit in MB:
   `@upload_limit("REFERRAL_DOCUMENT_MAX_MB")`. Every other view takes none.
2. `UploadLimitMiddleware` runs before the CSRF check, the first reader of a
   body: a CONTENT_LENGTH beyond the view's file limit plus
   DATA_UPLOAD_MAX_MEMORY_SIZE (the form's other fields) answers 413 at once,
   with nothing read.
3. `UploadLimitHandler`, the first upload handler, counts each file's bytes
   as they arrive. Past the limit it skips the file: Django drops what the
   handlers after it had stored and reads on, so the form's other fields
   arrive, and `refused_upload` tells the view to say the file was too large.
4. The reverse proxy refuses larger bodies before they reach Rapport
   (README, production).
"""

from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

MB = 1024 * 1024


class UploadRequest(HttpRequest):
    """A request as `UploadLimitMiddleware` and `UploadLimitHandler` leave it."""

    upload_max_bytes: int
    # The fields whose file was skipped, with the limit it passed.
    refused_uploads: dict[str, int]


def upload_limit[ViewT: Callable[..., Any]](setting: str) -> Callable[[ViewT], ViewT]:
    """Lets a view take files up to the number of MB in `setting`, read at each request."""

    def decorator(view: ViewT) -> ViewT:
        view.upload_limit_setting = setting  # type: ignore[attr-defined]  # read back by _file_limit
        return view

    return decorator


def _file_limit(view: Callable[..., Any]) -> int:
    setting = getattr(view, "upload_limit_setting", None)
    return getattr(settings, setting) * MB if setting else 0


def _megabytes(size: int) -> str:
    return f"{size / MB:g} MB"


class UploadLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: UploadRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        request.upload_max_bytes = _file_limit(view)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > request.upload_max_bytes + settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return render(request, "413.html", {"limit": _megabytes(request.upload_max_bytes)}, status=413)
        return None


class UploadLimitHandler(FileUploadHandler):
    """Skips a file as soon as it is larger than the view takes; see the module's steps 3 and 4."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        # No limit set: the request did not pass the middleware's view check.
        self.limit = getattr(self.request, "upload_max_bytes", 0)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            refused = getattr(self.request, "refused_uploads", {})
            refused[self.field_name] = self.limit
            cast(UploadRequest, self.request).refused_uploads = refused
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        """The handlers after this one make the file."""
        return None


def refused_upload(request: HttpRequest, field_name: str) -> str | None:
    """What to tell the user when the file sent in `field_name` was too large and skipped."""
    limit = getattr(request, "refused_uploads", {}).get(field_name)
    if limit is None:
        return None
    return f"The file is larger than {_megabytes(limit)}; attach a smaller one."
