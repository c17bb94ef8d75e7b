"""AV-MNIST rebuilt from the data folder: an MNIST digit image paired with a spoken digit from FSDD."""

from __future__ import annotations

import gzip
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import _as_signal, fix_length, log_mel_frames
from .datasets import data_root, missing_data
from .supervised import SupervisedData
from .views import _one_line

__all__ = ["load_avmnist"]

N_MELS = 20
N_FRAMES = 20
DURATION = 0.8  # seconds
TEST_INDICES = range(5)  # FSDD's official split: recording indices 0-4 are the test set
N_PIXELS = 784
FSDD_NAME = re.compile(r"(\d)_([A-Za-z]+)_(\d+)\.wav")
TRAIN_IMAGES = ("mnist", "mnist_5k.csv.gz")
TEST_IMAGES = ("mnist", "t10k-images-idx3-ubyte.gz")
TEST_LABELS = ("mnist", "t10k-labels-idx1-ubyte.gz")
RECORDINGS = ("fsdd", "recordings")


@dataclass(frozen=True)
class _Recordings:
    """The FSDD recordings of one split, in row order."""

    names: list[str]
    digits: np.ndarray
    speakers: np.ndarray  # speaker index into the sorted speaker names
    indices: np.ndarray  # the recording index, 0..49
    features: np.ndarray  # raw log-mel features, (n, N_MELS * N_FRAMES)


@dataclass(frozen=True)
class _Provenance:
    """Where each row of the AV-MNIST splits came from."""

    speakers: list[str]
    train_recordings: list[str]  # FSDD file names of the training rows
    test_recordings: list[str]
    train_image_rows: np.ndarray  # row of mnist_5k.csv.gz paired with each training row
    test_image_rows: np.ndarray  # index into the t10k images paired with each test row


# ---------------------------------------------------------------- reading files


def _missing(path: Path) -> FileNotFoundError:
    return missing_data("avmnist", path)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise _missing(path)
    return path


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An uint8 array from a gzipped IDX file (big-endian header: 0, 0, type 0x08, ndim, then ndim int32 sizes)."""
    try:
        raw = gzip.decompress(_require(path).read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] != ndim:
        raise ValueError(f"{path.name} is not an uint8 IDX file with {ndim} dimension(s)")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    if len(raw) != header + int(np.prod(shape)):
        raise ValueError(f"{path.name} holds {len(raw) - header} bytes of data, its header promises shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_test_images(root: Path) -> tuple[np.ndarray, np.ndarray]:
    image_path, label_path = root.joinpath(*TEST_IMAGES), root.joinpath(*TEST_LABELS)
    images = _read_idx(image_path, 3)
    labels = _read_idx(label_path, 1)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{image_path.name} holds images of shape {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise ValueError(f"{image_path.name} has {len(images)} images but {label_path.name} has {len(labels)} labels")
    if labels.max(initial=0) > 9:
        raise ValueError(f"{label_path.name} has labels outside 0..9")
    return images.reshape(len(images), N_PIXELS), labels.astype(np.int64)


def _read_train_images(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """mnist_5k.csv.gz: one image a row, 784 pixels (0-255) then the label."""
    path = _require(root.joinpath(*TRAIN_IMAGES))
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as exc:
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None
    if table.shape[1] != N_PIXELS + 1:
        raise ValueError(f"{path.name} has {table.shape[1]} columns, expected {N_PIXELS} pixels and a label")
    pixels, labels = table[:, :N_PIXELS], table[:, N_PIXELS]
    if pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255 or labels.min(initial=0) < 0 or labels.max() > 9:
        raise ValueError(f"{path.name} has pixels outside 0..255 or labels outside 0..9")
    return pixels.astype(np.uint8), labels


def _read_wav(path: Path) -> tuple[int, np.ndarray]:
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(path)
        return int(rate), _as_signal(data)
    except Exception as exc:  # scipy raises many types on corrupt files
        raise ValueError(f"cannot read {path.name}: {_one_line(exc)}") from None


def _read_recordings(root: Path) -> tuple[_Recordings, _Recordings, list[str]]:
    """Both splits of FSDD, rows sorted by (digit, speaker, index), with log-mel features."""
    folder = root.joinpath(*RECORDINGS)
    if not folder.is_dir():
        raise _missing(folder)
    found = []
    for entry in os.scandir(folder):
        match = FSDD_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), int(match.group(3)), entry.name))
    if not found:
        raise FileNotFoundError(f"no {{digit}}_{{speaker}}_{{index}}.wav files in {folder}; check OTMIX_DATA")
    found.sort()
    speakers = sorted({f[1] for f in found})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # WavFileWarning on odd chunks; bad files raise instead
        waves = [_read_wav(folder / f[3]) for f in found]
    n_samples = {rate: int(round(DURATION * rate)) for rate in {rate for rate, _ in waves}}
    features = np.empty((len(found), N_MELS * N_FRAMES))
    for rate, length in n_samples.items():
        rows = [i for i, (r, _) in enumerate(waves) if r == rate]
        batch = np.stack([fix_length(waves[i][1], length) for i in rows])
        features[rows] = log_mel_frames(batch, rate, N_MELS, N_FRAMES, DURATION)
    digits = np.array([f[0] for f in found], dtype=np.int64)
    speaker_ids = np.array([speakers.index(f[1]) for f in found], dtype=np.int64)
    indices = np.array([f[2] for f in found], dtype=np.int64)
    is_test = np.isin(indices, TEST_INDICES)

    def split(mask: np.ndarray) -> _Recordings:
        names = [f[3] for f, m in zip(found, mask) if m]
        return _Recordings(names, digits[mask], speaker_ids[mask], indices[mask], features[mask])

    return split(~is_test), split(is_test), speakers


# ---------------------------------------------------------------- pairing and assembly


def _pair_images(digits: np.ndarray, image_labels: np.ndarray, rng: np.random.Generator, source: str) -> np.ndarray:
    """For each row, an image index with the same label; no image is used twice. Digits are drawn in order 0..9."""
    chosen = np.empty(len(digits), dtype=np.int64)
    for digit in np.unique(digits):
        rows = np.flatnonzero(digits == digit)
        pool = np.flatnonzero(image_labels == digit)
        if len(pool) < len(rows):
            raise ValueError(f"{source} has {len(pool)} images of digit {digit}, {len(rows)} are needed")
        chosen[rows] = rng.choice(pool, size=len(rows), replace=False)
    return chosen


def _build_avmnist(root: Path, random_state: int) -> tuple[SupervisedData, _Provenance]:
    """The AV-MNIST data set and, per row, the FSDD recording and the MNIST image it was built from."""
    train_pixels, train_labels = _read_train_images(root)
    test_pixels, test_labels = _read_test_images(root)
    train, test, speakers = _read_recordings(root)
    if len(train.digits) == 0 or len(test.digits) == 0:
        raise ValueError(f"FSDD folder {root.joinpath(*RECORDINGS)} lacks recordings of one split (indices 0-4 vs 5+)")
    rng = np.random.default_rng(random_state)
    train_rows = _pair_images(train.digits, train_labels, rng, TRAIN_IMAGES[1])
    test_rows = _pair_images(test.digits, test_labels, rng, TEST_IMAGES[1])
    mean = train.features.mean(axis=0)
    std = train.features.std(axis=0)
    std[std == 0] = 1.0
    description = (
        "AV-MNIST rebuilt from MNIST and the Free Spoken Digit Dataset (FSDD). Modality 'image' = a 28x28 MNIST "
        "digit, 784 pixels scaled to [0, 1]; modality 'audio' = a spoken digit (8 kHz FSDD recording, centred and "
        f"zero-padded or cropped to {DURATION} s) as a {N_MELS}-band x {N_FRAMES}-frame log-mel spectrogram, "
        "standardised per feature with training statistics. Target: the digit (10 classes). Split: FSDD's official "
        "rule, recording indices 0-4 in test and 5-49 in train; each recording is paired with a distinct MNIST image "
        f"of the same digit (train from mnist_5k.csv.gz, test from t10k), drawn with random_state={random_state}. "
        "Rows are sorted by digit, speaker and recording index; groups_train is the speaker (0..5, alphabetical)."
    )
    data = SupervisedData(
        name="avmnist",
        task="classification",
        modality_names=["image", "audio"],
        X_train=[train_pixels[train_rows] / 255.0, (train.features - mean) / std],
        y_train=train.digits.copy(),
        X_test=[test_pixels[test_rows] / 255.0, (test.features - mean) / std],
        y_test=test.digits.copy(),
        groups_train=train.speakers.copy(),
        description=description,
    )
    provenance = _Provenance(speakers, train.names, test.names, train_rows, test_rows)
    return data, provenance


def load_avmnist(data_dir: str | os.PathLike[str] | None = None, random_state: int = 0) -> SupervisedData:
    """AV-MNIST: an MNIST image and an FSDD spoken digit per row, the label being the digit.

    Modality 0 ``image``: an MNIST digit, 784 pixels scaled to [0, 1]. Modality 1 ``audio``: an FSDD
    recording ``fsdd/recordings/{digit}_{speaker}_{index}.wav`` (8 kHz mono) as a 20 x 20 log-mel
    spectrogram (400 features; see :func:`otmix.data.audio.log_mel_spectrogram` with its defaults:
    0.8 s, hop 40 ms, window 80 ms, 20 HTK mel bands up to 4 kHz, ``log(mel + 1e-6)``), then
    standardised per feature with the training rows' mean and standard deviation.

    FSDD's official split puts recording indices 0-4 in the test set (300 recordings) and 5-49 in the
    training set (2700). Each recording is paired with an MNIST image of the same digit, chosen at random
    (seeded by ``random_state``) without reuse within a split: training rows from
    ``mnist/mnist_5k.csv.gz`` (500 training images per digit), test rows from the MNIST test set
    ``mnist/t10k-images-idx3-ubyte.gz`` and ``mnist/t10k-labels-idx1-ubyte.gz``. Unlike the original
    AV-MNIST, no background noise is mixed in. Rows are sorted by digit, speaker and recording index.

    Parameters
    ----------
    data_dir : path, optional
        The folder holding ``fsdd/`` and ``mnist/``; default ``data_root()`` (``$OTMIX_DATA``).
    random_state : int
        Seeds the image pairing; the audio features do not depend on it.

    Returns
    -------
    SupervisedData
        10 classes; ``groups_train`` is the speaker index (0..5, speakers in alphabetical order).

    Raises
    ------
    FileNotFoundError
        When a file or the recordings folder is missing.
    ValueError
        When a wav or MNIST file is corrupt, or too few images of a digit are available.
    """
    root = Path(data_dir).expanduser() if data_dir is not None else data_root()
    return _build_avmnist(root, random_state)[0]
