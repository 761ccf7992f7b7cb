"""Domain errors raised by services, and the error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError


class DomainError(Exception):
    """A rule said no. The message is safe to show to the person who asked."""

    status_code = 400
    message = "That could not be done."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details


class NotAllowed(DomainError):
    status_code = 403
    message = "You are not allowed to do that."


class NotFoundError(DomainError):
    status_code = 404
    message = "That could not be found."


class InvalidInput(DomainError):
    status_code = 400
    message = "Please check what you entered."


class InputErrors(InvalidInput):
    """Several input errors found at once (each names its `field`), so a form shows them all
    in one answer instead of one per submit."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__(" ".join(err.message for err in errors))
        self.errors = errors


class RateLimited(DomainError):
    status_code = 429
    message = "You are doing that too often. Please wait a while and try again."


# Accounts
class UsernameTaken(DomainError):
    message = "That username is already taken."


class EmailTaken(DomainError):
    message = "That email address is already registered."


class WeakPassword(InvalidInput):
    message = "Choose a longer, less common password."


class InvalidToken(DomainError):
    message = "That link is invalid or has expired."


class AccountSuspended(NotAllowed):
    message = "Your account is suspended."


class AccountBanned(NotAllowed):
    message = "Your account is banned."


class EmailNotConfirmed(NotAllowed):
    message = "Please confirm your email address first."


TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Cannot be processed",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to see or do this.",
    404: "There is nothing here. It may have been moved or removed.",
    405: "That page does not accept this kind of request.",
    413: "What you sent is too large.",
    429: "You are doing that too often. Please wait a while and try again.",
    500: "Sorry, something went wrong on our side. Please try again later.",
    503: "The service is temporarily unavailable.",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(code: int, message: str | None = None) -> Any:
    title = TITLES.get(code, "Error")
    message = message or MESSAGES.get(code, title)
    if wants_json():
        return jsonify(error={"status": code, "title": title, "detail": message}), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def register(app: Flask) -> None:
    """Every error becomes a page (or an API error body) with a clear message."""

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> Any:
        return error_response(
            400,
            "The form expired or was not sent from this site. Please go "
            "back, reload the page and try again.",
        )

    @app.errorhandler(SecurityError)
    def _unknown_host(err: SecurityError) -> Any:
        # A Host header outside TRUSTED_HOSTS (config.py): no URL can be built for such a
        # request, so no page either, only a short plain answer.
        return Response(
            "This site does not answer to that host name.\n", 400, mimetype="text/plain"
        )

    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> Any:
        return error_response(err.status_code, err.message)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        code = err.code or 500
        description = err.description if code not in (404, 500) else None
        if code == 429:
            # A limit may say what was limited (Flask-Limiter's error_message); else ours.
            said = getattr(getattr(err, "limit", None), "error_message", None)
            description = err.description if said else MESSAGES[429]
        elif description == type(err).description or (
            description and description.startswith(("The browser (or proxy)", "The server"))
        ):
            # Werkzeug's stock wording is for developers: show ours.
            description = None
        return error_response(code, description)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if app.testing and app.config.get("PROPAGATE_UNEXPECTED", True):
            raise err
        return error_response(500)
