"""The REST API (`/api/v1/`): the inbox as JSON for scripts and integrations.

Views check access and call one service or selector, like the pages in `inbox/views/`;
docs/architecture.md, "REST API", describes the conventions (authentication, permissions,
cursor pagination, the error format).
"""
