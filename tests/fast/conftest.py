"""Fixtures of the fast tier: services built on the fakes, never on the real models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes import HashingEncoder, OverlapReader

from qa.loaders import load_paths
from qa.service import QAService
from qa.settings import Settings

ServiceFactory = Callable[..., QAService]


@pytest.fixture(scope="module")
def make_service() -> Iterator[ServiceFactory]:
    """`make_service(data_dir, **settings)`: a service on the fakes (one encoder for the
    module, so that services over the same folder agree on the vectors); closed at the end."""
    encoder = HashingEncoder()
    made: list[QAService] = []

    def make(data_dir: Path, **settings: object) -> QAService:
        service = QAService(Settings(data_dir=data_dir, **settings),
                            encoder=encoder, reader=OverlapReader())
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fast")


@pytest.fixture(scope="module")
def service(make_service: ServiceFactory, data_dir: Path, sample_path: Path) -> QAService:
    """The sample article, ingested."""
    svc = make_service(data_dir)
    svc.add_documents(load_paths([sample_path]).documents)
    return svc
