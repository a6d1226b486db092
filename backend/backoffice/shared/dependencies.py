"""What a route takes from the process it runs in: the settings, the knowledge base, the system
catalogue, the clock, and the one database engine of the process. `create_app` makes each once, at start; routes ask for them with
`Depends`, so a test gives the app its own settings or a clock it can move, and every feature shares
one engine instead of opening the database again."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from ..catalogue import Catalogue
from ..settings import Settings

if TYPE_CHECKING:  # the knowledge base is a feature above shared: only its type is named here
    from ..knowledge.rules import KnowledgeBase

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Process:
    """The parts every feature shares, one of each per process (on `app.state.process`)."""

    settings: Settings
    knowledge: KnowledgeBase
    catalogue: Catalogue
    sessions: sessionmaker
    clock: Clock


def process(request: Request) -> Process:
    return request.app.state.process


def settings(request: Request) -> Settings:
    return process(request).settings


def knowledge(request: Request) -> KnowledgeBase:
    return process(request).knowledge


def clock(request: Request) -> Clock:
    return process(request).clock


def catalogue(request: Request) -> Catalogue:
    return process(request).catalogue


def sessions(request: Request) -> sessionmaker:
    return process(request).sessions


def session(request: Request) -> Iterator[Session]:
    with process(request).sessions() as opened:
        yield opened


SettingsDep = Annotated[Settings, Depends(settings)]
KnowledgeDep = Annotated["KnowledgeBase", Depends(knowledge)]
CatalogueDep = Annotated[Catalogue, Depends(catalogue)]
ClockDep = Annotated[Clock, Depends(clock)]
SessionsDep = Annotated[sessionmaker, Depends(sessions)]
SessionDep = Annotated[Session, Depends(session)]
