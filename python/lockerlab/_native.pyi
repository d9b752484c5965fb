# Type stubs of the native module (python/src/). Import `lockerlab`, whose
# functions wrap these and give results their types.

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

_Progress = Optional[Callable[[int, int], Any]]
_Path = Union[str, "PathLike[str]"]

__version__: str

class Scenario:
    @staticmethod
    def load(path: _Path) -> Scenario: ...
    @staticmethod
    def builtin() -> Scenario: ...
    @staticmethod
    def from_toml(text: str, name: str = "<string>") -> Scenario: ...
    @staticmethod
    def from_dict(d: Dict[str, Any], name: str = "<dict>") -> Scenario: ...
    def with_(self, **settings: Any) -> Scenario: ...
    def to_toml(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def replications(self) -> int: ...
    @property
    def locations(self) -> List[str]: ...
    @property
    def policy(self) -> str: ...
    @property
    def horizon_days(self) -> float: ...
    @property
    def warmup_days(self) -> float: ...

class DwellModel:
    def meta_json(self) -> str: ...

def simulate(
    scenario: Scenario,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    policy: Optional[str] = None,
    model: Optional[_Path] = None,
    demand_model: Optional[_Path] = None,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> Tuple[str, bytes]: ...
def history(
    scenario: Scenario,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> bytes: ...
def compare(
    scenario: Scenario,
    policies: Union[str, Sequence[str]],
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    metrics: Optional[List[str]] = None,
    model: Optional[_Path] = None,
    demand_model: Optional[_Path] = None,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> bytes: ...
def sweep(
    scenario: Scenario,
    vary: List[Tuple[str, Union[str, List[float]]]],
    policies: Optional[List[str]] = None,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    model: Optional[_Path] = None,
    demand_model: Optional[_Path] = None,
    tidy: bool = False,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> bytes: ...
def tune(
    scenario: Scenario,
    family: str,
    objective: str = "acceptance",
    max_broken_promise_rate: float = 0.001,
    per_location: bool = False,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    model: Optional[_Path] = None,
    demand_model: Optional[_Path] = None,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> Tuple[str, bytes]: ...
def split_policies(list: str) -> List[str]: ...
def train(
    path: Optional[str] = None,
    frame: Optional[bytes] = None,
    hyperparameters: str = "{}",
    skip_bad_rows: bool = False,
    threads: Optional[int] = None,
    progress: _Progress = None,
) -> DwellModel: ...
def predict(
    model: DwellModel,
    path: Optional[str] = None,
    frame: Optional[bytes] = None,
    skip_bad_rows: bool = False,
) -> bytes: ...
def evaluate(
    model: DwellModel,
    path: Optional[str] = None,
    frame: Optional[bytes] = None,
    skip_bad_rows: bool = False,
) -> str: ...
def save_model(model: DwellModel, dir: _Path) -> None: ...
def load_model(dir: _Path) -> DwellModel: ...
