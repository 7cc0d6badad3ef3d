"""Every operation of the API as a command, ``versive <resource> <method>``, built at import from the operations table.

The table (``_generated/operations.py``) and the resource methods (``_generated/resources.py``)
are both generated from the spec, so a spec change adds commands without a hand-written
line. A command's arguments are its method's: path parameters positional, query
parameters and body fields as ``--options`` (required where the method requires them),
read by their JSON kinds. The command calls the method through the client, never HTTP
itself, so the client checks, sends, retries and reads as it does for Python callers.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click
from click.core import ParameterSource

from versive_client._generated.operations import OPERATIONS, WAITERS
from versive_client.webhooks import FIRST_POLL, LAST_POLL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from versive_client._generated.operations import Operation, Param, Waiter

    Call = Callable[["Operation", list[object], dict[str, object]], None]
    """Runs one operation with its positional arguments and keyword arguments."""
    WaitCall = Callable[["Waiter", list[object], dict[str, object]], None]
    """Runs one waiter with its positional arguments and keyword arguments."""

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
    _Choice = click.Choice[str]
else:  # generic to type checkers, not subscriptable at run time in every click the cli extra allows
    _ParamType = click.ParamType
    _Choice = click.Choice

NULL = "null"
DEFAULT = ParameterSource.DEFAULT  # an option left out: not sent
VALUES_HELP = """\b
Values:
  text               as given
  numbers            as given: --display-order 3
  true or false      --flag or --no-flag
  objects and lists  as JSON: --config '{"primaryColor": "#000"}'
  null               the word null, where a field may be null (a text field
                     too: --extra-body '{"title": "null"}' sends the word)
An option left out is not sent. The answer is printed as JSON (nothing for an
answer without a body).
"""

# How each JSON kind is read from the command line; raises ValueError for text that is not one.
# Tried in this order: a value that reads as JSON of another kind the field takes wins over text.
_READERS: dict[str, tuple[Callable[[str], object], str]] = {
    "object": (lambda text: _json(text, dict), "a JSON object"),
    "array": (lambda text: _json(text, list), "a JSON array"),
    "integer": (lambda text: _json(text, int), "an integer"),
    "number": (lambda text: _json(text, (int, float)), "a number"),
    "boolean": (lambda text: _json(text, bool), "true or false"),
    "date-time": (dt.datetime.fromisoformat, "an ISO 8601 date and time"),
    "date": (dt.date.fromisoformat, "an ISO 8601 date"),
    "uuid": (UUID, "a UUID"),
    "string": (str, "text"),
}
_METAVARS = {"object": "JSON", "array": "JSON", "integer": "INTEGER", "number": "NUMBER", "string": "TEXT"}


def _json(text: str, kind: type | tuple[type, ...]) -> object:
    value = json.loads(text)
    # A bool is an int to Python, never a number to JSON.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"not {kind}")
    return value


class SpecValue(_ParamType):
    """A value of the kinds the spec allows (any JSON value when it names none), `null` where it may be null."""

    name = "value"

    def __init__(self, kinds: Sequence[str], *, nullable: bool) -> None:
        """Read text as one of `kinds` (JSON kinds of the operations table)."""
        self.kinds = [kind for kind in _READERS if kind in kinds]
        self.nullable = nullable

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:  # noqa: ANN401 - click's signature
        """The value as the method takes it, or a usage error naming the option."""
        if not isinstance(value, str):
            return value
        if value == NULL and self.nullable:
            return None
        if not self.kinds:  # the spec allows any value: JSON, else the text itself
            try:
                return json.loads(value)
            except ValueError:
                return value
        not_json = ""
        for kind in self.kinds:
            try:
                return _READERS[kind][0](value)
            except json.JSONDecodeError as exc:
                not_json = f" (not JSON: {exc})" if kind in {"object", "array"} else not_json
            except ValueError:
                continue
        expected = " or ".join(_READERS[kind][1] for kind in self.kinds) + (" or null" if self.nullable else "")
        raise click.BadParameter(f"{value!r} is not {expected}{not_json}.", ctx, param)


class NullableChoice(_Choice):
    """One of the spec's values, or `null` when None is one of them."""

    def __init__(self, values: Sequence[object]) -> None:
        """Choose among `values` (strings, or None: the word null)."""
        super().__init__([NULL if value is None else str(value) for value in values])
        self.nullable = None in values

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:  # noqa: ANN401 - click's signature
        """The chosen value; `null` is None."""
        chosen = super().convert(value, param, ctx)
        return None if chosen == NULL and self.nullable else chosen


def add_operation_commands(
    cli: click.Group, call: Call, epilog: str, operations: Iterable[Operation] = OPERATIONS
) -> None:
    """Give `cli` a group per resource and a command per operation, keeping any command already there.

    A hand-written command of the same name (``interviews create``) takes precedence.
    """
    by_resource: dict[str, list[Operation]] = {}
    for operation in operations:
        by_resource.setdefault(operation.resource, []).append(operation)
    for resource, resource_operations in by_resource.items():
        group_name = resource.replace("_", "-")
        names = [operation.verb.replace("_", "-") for operation in resource_operations]
        group = cli.commands.get(group_name)
        if group is None:
            title = resource.replace("_", " ").capitalize()
            group = click.Group(
                group_name,
                help=f"{title}: {', '.join(names)}.\n\nOne command per operation of the API, generated from its spec.",
                epilog=epilog,
            )
            cli.add_command(group)
        if not isinstance(group, click.Group):
            raise TypeError(f"the API's resource {resource} is named like the command versive {group_name}")
        for name, operation in zip(names, resource_operations, strict=True):
            if name not in group.commands:
                required = frozenset(param.name for param in operation.params if param.required)
                group.add_command(operation_command(operation, required, call, epilog), name)


def operation_command(operation: Operation, required: Iterable[str], call: Call, epilog: str) -> click.Command:
    """The command that calls `operation`'s method with what it was given."""
    required = frozenset(required)
    params: list[click.Parameter] = [_parameter(param, required=param.name in required) for param in operation.params]
    if operation.body:
        params.append(
            click.Option(
                ["--extra-body", "extra_body"],
                metavar="JSON",
                type=SpecValue(["object"], nullable=False),
                help="More body fields, as a JSON object (for fields the spec does not name yet).",
            )
        )

    @click.pass_context
    def run(ctx: click.Context, /, **values: object) -> None:
        given = {name: value for name, value in values.items() if ctx.get_parameter_source(name) is not DEFAULT}
        for param in ctx.command.params:
            if param.required and param.name not in given:  # click lets a --flag/--no-flag pair go missing
                raise click.MissingParameter(ctx=ctx, param=param)
        paths = [given.pop(param.name) for param in operation.params if param.where == "path"]
        call(operation, paths, given)

    return click.Command(
        operation.verb.replace("_", "-"),
        callback=run,
        params=params,
        help=(
            f"{operation.summary}.\n\n\b\n{operation.method} {operation.path}\n"
            f"In Python: await versive.{operation.resource}.{operation.verb}(...)"
        ),
        short_help=operation.summary,
        epilog=f"{VALUES_HELP}\n{epilog}",
    )


def add_waiter_commands(cli: click.Group, call: WaitCall, epilog: str, waiters: Iterable[Waiter] = WAITERS) -> None:
    """Give each waiter's resource group (made by `add_operation_commands`) its command: ``versive interviews wait``."""
    for waiter in waiters:
        group = cli.commands.get(waiter.operation.resource.replace("_", "-"))
        name = waiter.name.replace("_", "-")
        if isinstance(group, click.Group) and name not in group.commands:
            group.add_command(waiter_command(waiter, call, epilog), name)


def waiter_command(waiter: Waiter, call: WaitCall, epilog: str) -> click.Command:
    """The command that waits as `waiter`'s method does, then prints the answer."""
    operation = waiter.operation
    seconds = click.FloatRange(min=0, min_open=True)
    params: list[click.Parameter] = [
        *(_parameter(param, required=True) for param in operation.params if param.where == "path"),
        click.Option(["--timeout"], type=seconds, required=True, metavar="SECONDS", help="The most seconds to wait."),
        click.Option(
            ["--until"],
            multiple=True,
            default=waiter.until,
            show_default=True,
            metavar=waiter.field.upper(),
            help=f"A {waiter.field} that ends the wait (repeat for several).",
        ),
        click.Option(
            ["--poll-interval"],
            type=seconds,
            default=FIRST_POLL,
            show_default=True,
            help="Seconds between the first polls.",
        ),
        click.Option(
            ["--max-poll-interval"],
            type=seconds,
            default=LAST_POLL,
            show_default=True,
            help="The longest wait between polls.",
        ),
    ]

    def run(**values: object) -> None:
        paths = [values.pop(param.name) for param in operation.params if param.where == "path"]
        call(waiter, paths, values)

    until = ", ".join(waiter.until)
    return click.Command(
        waiter.name.replace("_", "-"),
        callback=run,
        params=params,
        help=(
            f"Wait until the {waiter.field} is final ({until}), polling, and print it.\n\n\b\n"
            f"{operation.method} {operation.path}: every --poll-interval seconds at first, then less often.\n"
            f"In Python: await versive.{operation.resource}.{waiter.name}(..., timeout=...)\n\n"
            f"Exit status 5 when the {waiter.field} is not final within --timeout; the error names the last one seen."
        ),
        short_help=f"Wait until the {waiter.field} is final ({until}).",
        epilog=epilog,
    )


def _parameter(param: Param, *, required: bool) -> click.Parameter:
    """A path parameter as an argument; anything else as an option read by its kinds."""
    kinds = [kind for kind in param.kinds if kind != NULL]
    nullable = NULL in param.kinds or None in param.values
    if param.where == "path":
        return click.Argument([param.name], type=SpecValue(kinds, nullable=False), metavar=param.name.upper())
    flag = "--" + param.name.replace("_", "-")
    kind_type: _ParamType
    if kinds == ["boolean"]:  # null cannot be a flag: leave it out, or say it in --extra-body
        return click.Option([f"{flag}/--no-{flag[2:]}", param.name], default=None, required=required)
    metavar: str | None = None
    help_text: str | None = None
    if param.values and all(isinstance(value, str) for value in param.values if value is not None):
        kind_type = NullableChoice([*param.values, *([None] if nullable and None not in param.values else [])])
    else:
        kind_type = SpecValue(kinds, nullable=nullable)
        metavar = _METAVARS.get(kinds[0], "VALUE") if len(kinds) == 1 else "VALUE"
        expected = " or ".join(_READERS[kind][1] for kind in kind_type.kinds) or "any JSON value"
        if expected != "text" or nullable:  # plain text needs no word
            help_text = expected[0].upper() + expected[1:] + (", or null." if nullable else ".")
    return click.Option([flag, param.name], type=kind_type, metavar=metavar, required=required, help=help_text)
