from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # Connects the login receiver that reads the staff member's own language into the
        # session; otherwise it would only connect when the middleware is first loaded.
        # Logins, logouts, failed logins and lockouts are audited by receivers there, even
        # for a session made by `force_login` before any login page was loaded.
        import webcare.login
        import webcare.middleware  # noqa: F401
