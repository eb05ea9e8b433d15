"""/api/v1/archive-exports/: archive exports (Archiefwet) for administrators, as on the page
/administration/archive/ (inbox/views/archive.py). docs/archive-format.md describes the files
the ZIP holds."""

from __future__ import annotations

from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox import services
from inbox.api.permissions import IsAdministrator, staff_user
from inbox.api.serializers import JsonBodySerializer
from inbox.models import ArchiveExport
from inbox.services import ServiceError
from inbox.views.archive import archive_zip_response


class ArchiveExportSerializer(serializers.ModelSerializer):
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The administrator's username; null for an export made on the command line.",
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Records per file (conversations, messages, notes, assignments, "
        "audit_events, contacts, channels, staff); empty until completed.",
    )
    manifest_sha256 = serializers.CharField(
        read_only=True, help_text="SHA-256 of manifest.json; empty until completed."
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ArchiveExport
        fields = [
            "id",
            "date_from",
            "date_to",
            "status",
            "created_by",
            "created_at",
            "finished_at",
            "counts",
            "manifest_sha256",
            "error",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, export: ArchiveExport) -> str | None:
        if export.status != ArchiveExport.Status.COMPLETED:
            return None
        return reverse("api:archive_export_download", args=[export.pk])


class ArchiveExportCreateSerializer(JsonBodySerializer):
    date_from = serializers.DateField(help_text="First day, Europe/Amsterdam (YYYY-MM-DD).")
    date_to = serializers.DateField(
        help_text="Last day, included; a day that is over (before today)."
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["date_from"] > attrs["date_to"]:
            raise ValidationError(
                {"date_to": [_("The end date must not be before the start date.")]}
            )
        return attrs


@extend_schema_view(
    get=extend_schema(tags=["archive"], summary="Archive exports, newest first (administrators)"),
    post=extend_schema(
        tags=["archive"],
        summary="Make an archive export of a range of days (administrators)",
        description="Conversations whose first citizen message lies in the range, with all "
        "their messages, notes, assignments and audit events (docs/archive-format.md). "
        "The worker writes the files: poll the export until `status` is `completed`.",
        request=ArchiveExportCreateSerializer,
        responses={202: ArchiveExportSerializer},
    ),
)
class ArchiveExportList(generics.ListAPIView):
    permission_classes = [IsAdministrator]
    serializer_class = ArchiveExportSerializer
    queryset = ArchiveExport.objects.select_related("created_by")

    def post(self, request: Request) -> Response:
        serializer = ArchiveExportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            export = services.archive_export_request(
                actor=staff_user(request),
                date_from=serializer.validated_data["date_from"],
                date_to=serializer.validated_data["date_to"],
            )
        except ServiceError as error:
            raise ValidationError({"date_to": [str(error)]}) from error
        export.refresh_from_db()
        return Response(ArchiveExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


def _export_or_404(export_id: int) -> ArchiveExport:
    export = ArchiveExport.objects.select_related("created_by").filter(pk=export_id).first()
    if export is None:
        raise NotFound()
    return export


@extend_schema(tags=["archive"], summary="One archive export (administrators)")
class ArchiveExportDetail(APIView):
    permission_classes = [IsAdministrator]

    @extend_schema(responses=ArchiveExportSerializer)
    def get(self, request: Request, export_id: int) -> Response:
        return Response(ArchiveExportSerializer(_export_or_404(export_id)).data)


class ArchiveExportDownload(APIView):
    permission_classes = [IsAdministrator]

    @extend_schema(
        tags=["archive"],
        summary="A completed archive export's files as one ZIP (administrators)",
        description="The same bytes for the same files: sorted names, fixed times. "
        "Every download is recorded in the audit trail (`archive.downloaded`).",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="ZIP")
        },
    )
    def get(self, request: Request, export_id: int) -> object:
        export = _export_or_404(export_id)
        try:
            services.archive_export_record_download(actor=staff_user(request), export_id=export.pk)
        except ServiceError as error:
            raise NotFound(str(error)) from error
        return archive_zip_response(export)


urlpatterns: list[URLPattern] = [
    path("v1/archive-exports/", ArchiveExportList.as_view(), name="archive_exports"),
    path(
        "v1/archive-exports/<int:export_id>/",
        ArchiveExportDetail.as_view(),
        name="archive_export",
    ),
    path(
        "v1/archive-exports/<int:export_id>/download/",
        ArchiveExportDownload.as_view(),
        name="archive_export_download",
    ),
]
