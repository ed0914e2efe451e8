"""The library's own objects, read from a configuration file: one definition per concept.

A setting such as ``retry`` *is* the library's :class:`~collectorkit.RetryPolicy`. Its options,
their types and their defaults are read from the object's constructor signature — there is no
second list — validated by pydantic (friendly input, exact error paths, unknown keys refused),
then handed to the constructor, whose own checks (``max_delay >= initial_delay`` ...) land at
the YAML path too. The same signature gives the JSON Schema.

Extension points keyed by a name (auth kinds, pagination modes) are registries of builders; the
value of the tag (``type``/``mode``) picks the builder, and each builder's signature is that
variant's options.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, cast, get_args, get_origin, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PydanticUserError,
    SecretStr,
    SerializationInfo,
    TypeAdapter,
    create_model,
)
from pydantic_core import PydanticCustomError, core_schema

from collectorkit._durations import parse_duration
from collectorkit._errors import ConfigError
from collectorkit._registry import Registry
from collectorkit.config._types import Duration, Secret, is_secret_name

__all__ = ["Options", "options_model", "plain_options", "read_as"]

# how the library's annotations read in a configuration file
_CONFIG_TYPES: dict[str, Any] = {
    "DurationInput": Duration,
    "Seconds": Duration,
    "Iterable": list,
    "Sequence": list,
    "Mapping": dict,
}
# no use_attribute_docstrings: a model made by create_model has no source to read them from, and
# pydantic's search through the call frames for one cost ~0.4 s of every command's start
_STRICT = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=False)


def _hints(build: Callable[..., Any]) -> dict[str, Any]:
    target = build.__init__ if isinstance(build, type) else build  # type: ignore[misc]
    module = sys.modules.get(getattr(build, "__module__", "") or "")
    namespace = dict(vars(module)) if module is not None else {}
    return get_type_hints(target, globalns=namespace, localns=_CONFIG_TYPES, include_extras=True)


_Parameter = tuple[Callable[..., Any], inspect.Parameter]


def _parameters(build: Callable[..., Any]) -> dict[str, _Parameter]:
    """The keyword parameters of ``build`` by name, each with the callable that declares it.

    A class whose constructor passes ``**options`` on to its base is followed into the bases'
    constructors (``SSESource`` takes ``batch_size`` through ``StreamingSource``)."""
    found: dict[str, _Parameter] = {}
    declarers = [build]
    if isinstance(build, type):
        declarers += [c for c in build.__mro__[1:] if "__init__" in vars(c) and c is not object]
    for declarer in declarers:
        signature = inspect.signature(declarer if declarer is build else declarer.__init__)
        parameters = list(signature.parameters.values())[0 if declarer is build else 1 :]
        for param in parameters:
            if param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                found.setdefault(param.name, (declarer, param))
        if all(p.kind is not p.VAR_KEYWORD for p in parameters):
            break
    return found


def parameter_names(build: Callable[..., Any]) -> frozenset[str]:
    """Every keyword ``build`` takes (``**options`` followed into a class's bases)."""
    return frozenset(_parameters(build))


# a library class -> how a configuration file writes it (``Annotated[cls, Options(...)]``)
_OBJECTS: dict[type, Any] = {}
_DUMPERS: dict[type, Options] = {}


def read_as(annotated: Any) -> None:
    """Read every parameter a library signature types as the class of ``annotated`` (an
    ``Annotated[cls, Options(...)]``) through those options: ``pagination: PaginationConfig``
    of :class:`~collectorkit.collect.CollectorRequest` is then written as the pagination
    options. ``cls | Mapping[...]`` (the object or its options) reads the same way."""
    cls, options = get_args(annotated)[:2]
    _OBJECTS[cls] = annotated
    _DUMPERS[cls] = options


def _objects_in(annotation: Any) -> Any:
    """``annotation`` with each library class :func:`read_as` knows replaced by its options."""
    if isinstance(annotation, type) and annotation in _OBJECTS:
        return _OBJECTS[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Union or origin is types.UnionType:
        objects = [_OBJECTS[a] for a in args if isinstance(a, type) and a in _OBJECTS]
        if not objects:
            return annotation
        # the object or its options as a mapping: the options type already reads both
        kept = [*objects, *(a for a in args if a is type(None))]
        return functools.reduce(lambda a, b: a | b, kept)
    if origin in (list, dict, tuple) and args:
        return origin[tuple(_objects_in(a) for a in args)]
    return annotation


def _default(build: Callable[..., Any], param: inspect.Parameter) -> dict[str, Any]:
    """``default`` or ``default_factory`` of a parameter (none: the option is required)."""
    if param.default is param.empty:
        return {}
    if dataclasses.is_dataclass(build):
        for field in dataclasses.fields(build):
            if field.name == param.name and field.default_factory is not dataclasses.MISSING:
                return {"default_factory": field.default_factory}
    return {"default": param.default}


def _config_type(param: inspect.Parameter, annotation: Any) -> Any:
    """The type a file may give for ``param``; ``None`` when it cannot be written."""
    annotation = _objects_in(annotation)
    # a credential never has a built-in value: ``state_key="default"`` is a name, not a secret
    secret = is_secret_name(param.name) and param.default in (param.empty, None)
    if secret and annotation in (str, str | None):
        return Secret if annotation is str else Secret | None
    try:
        TypeAdapter(annotation).json_schema()
    except (PydanticUserError, TypeError, ValueError, NameError):
        return None  # a clock, a token cache, a transport: objects, not settings
    return annotation


@functools.cache
def options_model(
    build: Callable[..., Any],
    *,
    tag: str | None = None,
    name: str | None = None,
    only: tuple[str, ...] | None = None,
    skip: tuple[str, ...] = (),
) -> type[BaseModel]:
    """The options of ``build`` as a frozen pydantic model (``tag: Literal[name]`` first);
    ``only`` keeps some parameters, ``skip`` leaves some out (other settings supply them)."""
    fields: dict[str, Any] = {}
    if tag is not None:
        fields[tag] = (cast(Any, Literal)[name], ...)
    parameters = _parameters(build).values()
    hints = {declarer: _hints(declarer) for declarer, _ in parameters}
    for declarer, param in parameters:
        if param.name.startswith("_") or param.name in skip:
            continue
        if only is not None and param.name not in only:
            continue
        annotation = _config_type(param, hints[declarer].get(param.name, Any))
        if annotation is not None:
            alias = param.name if hasattr(BaseModel, param.name) else None
            # ``json`` is written as is and held as ``json_`` (a BaseModel method's name)
            fields[f"{param.name}_" if alias else param.name] = (
                annotation,
                Field(alias=alias, **_default(declarer, param)),
            )
    title = getattr(build, "__name__", "Options")
    model = create_model(
        f"{title}_{name}" if tag else title,
        __config__=_STRICT,
        __doc__=inspect.getdoc(build),
        **fields,
    )
    return cast(type[BaseModel], model)


def plain_options(model: BaseModel, *, reveal: bool = True) -> dict[str, Any]:
    """The options a file gave, as the builder takes them (secrets revealed unless asked)."""
    fields = type(model).model_fields
    given = model.model_fields_set
    values = {fields[name].alias or name: getattr(model, name) for name in fields if name in given}
    return {
        k: v.get_secret_value() if reveal and isinstance(v, SecretStr) else v
        for k, v in values.items()
    }


def _jsonable(value: Any, reveal: bool) -> Any:
    options = _DUMPERS.get(type(value))
    if options is not None:
        return options.dump(value, reveal=reveal)
    if isinstance(value, SecretStr):
        return value.get_secret_value() if reveal else "**********"
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v, reveal) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v, reveal) for k, v in value.items()}
    return value


def _reveal(info: SerializationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get("reveal_secrets"))


@dataclasses.dataclass(frozen=True)
class Options:
    """Marks a configuration field whose value a library builder makes from the file's options.

    ``builders`` maps each ``tag`` value to a builder (one builder: ``tag`` is ``None``);
    ``only`` restricts a variant to some of its builder's parameters; ``make`` turns
    ``(tag value, options model)`` into the field's value (default: ``builder(**options)``);
    ``scalar`` lists the options a bare duration sets (``timeout: 30s``); ``names`` is the
    registry an unknown ``tag`` value is reported by (default: ``builders``).

    ``chosen_by`` names a setting of the enclosing model, declared before this one, whose value
    picks the builder instead of a tag inside the value (a stream's options are those of the
    class the source's ``type`` names); the value is then the validated options model, and a
    value that setting does not name a builder for is left to the enclosing model to refuse.
    ``skip`` leaves out parameters that other settings supply. When ``builders`` is a
    :class:`Registry`, a name registered after this field's schema was built is read too.
    """

    builders: Mapping[str, Callable[..., Any]]
    result: type
    tag: str | None = None
    only: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    make: Callable[[str, BaseModel], Any] | None = None
    scalar: tuple[str, ...] = ()
    names: Registry[Any] | None = None
    chosen_by: str | None = None
    skip: tuple[str, ...] = ()
    # the names each built schema holds; a Registry may gain names later (plug-ins)
    _compiled: set[str] = dataclasses.field(default_factory=set, repr=False, compare=False)

    def __hash__(self) -> int:
        return id(self)

    def model(self, name: str) -> type[BaseModel]:
        """The options model of the variant ``name``."""
        return options_model(
            self.builders[name],
            tag=self.tag,
            name=name,
            only=self.only.get(name),
            skip=self.skip,
        )

    def models(self) -> dict[str, type[BaseModel]]:
        """The options model of each variant."""
        return {name: self.model(name) for name in self.builders}

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        models = self.models()
        self._compiled.update(models)
        if self.chosen_by is not None:
            variants = core_schema.union_schema(
                [handler.generate_schema(m) for m in models.values()]
            )
            chain: core_schema.CoreSchema = core_schema.with_info_wrap_validator_function(
                self._by_sibling, variants
            )
        else:
            inner: core_schema.CoreSchema
            if self.tag is None:
                (inner,) = (handler.generate_schema(m) for m in models.values())
            else:
                inner = core_schema.tagged_union_schema(
                    {k: handler.generate_schema(m) for k, m in models.items()},
                    discriminator=self.tag,
                )
            chain = core_schema.chain_schema(
                [inner, core_schema.no_info_plain_validator_function(self._construct)]
            )
        return core_schema.no_info_wrap_validator_function(
            self._accept,
            chain,
            serialization=core_schema.plain_serializer_function_ser_schema(
                self._dump, info_arg=True
            ),
        )

    def _accept(self, value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, self.result):
            return value
        if self.scalar and isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                raise PydanticCustomError(
                    "config_error", "{reason}", {"reason": str(exc)}
                ) from None
            value = dict.fromkeys(self.scalar, seconds)
        if self.tag is not None and isinstance(value, Mapping) and self.tag in value:
            name = value[self.tag]
            self._check_tag(name)
            if isinstance(name, str) and name not in self._compiled:  # registered since
                return self._construct(self.model(name).model_validate(value))
        return handler(value)

    def _by_sibling(
        self,
        value: Any,
        handler: core_schema.ValidatorFunctionWrapHandler,
        info: core_schema.ValidationInfo,
    ) -> Any:
        name = (info.data or {}).get(cast(str, self.chosen_by))
        if not isinstance(name, str) or name not in self.builders:
            return value  # the enclosing model refuses it (or its own setting is wrong)
        return self.model(name).model_validate(value)

    def _check_tag(self, name: Any) -> None:
        names = self.names if self.names is not None else self.builders
        if isinstance(name, str) and name in self.builders:
            return
        if not isinstance(names, Registry):
            return  # the union of variants reports it
        raise PydanticCustomError(
            "config_error", "{reason}", {"reason": names.unknown(name).reason, "field": self.tag}
        )

    def _construct(self, options: BaseModel) -> Any:
        name = str(getattr(options, self.tag)) if self.tag else next(iter(self.builders))
        try:
            if self.make is not None:
                return self.make(name, options)
            return self.builders[name](**plain_options(options))
        except ConfigError as exc:
            # the layer names its own object first (RetryPolicy.max_delay): keep the field
            field = (exc.path or "").partition(".")[2]
            raise PydanticCustomError(
                "config_error", "{reason}", {"reason": exc.reason, "field": field}
            ) from None

    def _dump(self, value: Any, info: SerializationInfo) -> Any:
        return self.dump(value, reveal=_reveal(info))

    def dump(self, value: Any, *, reveal: bool = False) -> Any:
        """``value`` as the options a file writes (secrets masked unless ``reveal``)."""
        to_options = getattr(value, "to_options", None)
        if callable(to_options):
            return _jsonable(to_options(), reveal)
        if isinstance(value, BaseModel):  # options read for a builder (``chosen_by``)
            return _jsonable(plain_options(value), reveal)
        name = str(getattr(value, self.tag)) if self.tag else next(iter(self.builders))
        names = [f.alias or n for n, f in self.models()[name].model_fields.items()]
        return {n: _jsonable(getattr(value, n), reveal) for n in names if hasattr(value, n)}
