import doctest
import gzip
import importlib
import json
import re

import numpy as np
import pytest
from conftest import require_data_root
from scipy.io import wavfile

from otmix.data.audio import fix_length, log_mel_frames, log_mel_spectrogram, mel_band_edges, mel_filterbank, mix_at_snr
from otmix.data.avmnist import (
    HARD_IMAGE_ENERGY,
    HARD_SNR_DB,
    _build_avmnist,
    _pair_images,
    _read_test_images,
    _read_train_images,
    load_avmnist,
    load_avmnist_hard,
    noisy_windows,
    pca_keep_energy,
    recording_noise,
)
from otmix.data.datasets import data_root
from otmix.data.diabetes2 import load_diabetes2
from otmix.data.supervised import SUPERVISED_NAMES, SupervisedData, load_supervised

FSDD_NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav")


# ---------------------------------------------------------------- audio


def test_mel_filterbank_shape_and_weights():
    fb = mel_filterbank(20, 640, 8000)
    assert fb.shape == (20, 321)
    assert np.all(fb >= 0)
    np.testing.assert_allclose(fb.max(axis=1), 1.0)
    assert np.all(np.diff(np.argmax(fb, axis=1)) > 0)  # ordered by centre frequency
    centres = mel_band_edges(20, 8000)[1:-1]
    assert np.all(np.diff(centres) > 0)
    assert mel_filterbank(4, 256, 16000, fmin=300, fmax=3000)[:, : int(300 * 256 / 16000)].sum() == 0


def test_mel_filterbank_rejects_bad_arguments():
    with pytest.raises(ValueError, match="covers no FFT bin"):
        mel_filterbank(40, 16, 8000)
    with pytest.raises(ValueError, match="fmax"):
        mel_filterbank(10, 256, 8000, fmax=5000)
    with pytest.raises(ValueError, match="n_mels"):
        mel_filterbank(0, 256, 8000)


@pytest.mark.parametrize("n_samples", [400, 3000, 6400, 12000])
def test_log_mel_spectrogram_length_and_padding(n_samples):
    t = np.arange(n_samples) / 8000
    feats = log_mel_spectrogram(0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    assert feats.shape == (400,)
    assert np.all(np.isfinite(feats))
    short = log_mel_spectrogram(np.ones(3), 8000, n_mels=8, n_frames=5, duration=0.1)
    assert short.shape == (40,) and np.all(np.isfinite(short))


def test_log_mel_spectrogram_scales_int16_pcm():
    t = np.arange(2000) / 8000
    wave = 0.3 * np.sin(2 * np.pi * 700 * t)
    pcm = np.round(wave * 32768).astype(np.int16)
    np.testing.assert_allclose(log_mel_spectrogram(pcm, 8000), log_mel_spectrogram(pcm / 32768.0, 8000))
    np.testing.assert_allclose(log_mel_spectrogram(pcm, 8000), log_mel_spectrogram(wave, 8000), atol=1e-3)


def test_sine_energy_lands_in_its_band():
    t = np.arange(6400) / 8000
    feats = log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t), 8000).reshape(20, 20)
    band = int(np.argmax(feats.mean(axis=1)))
    edges = mel_band_edges(20, 8000)
    width = edges[band + 2] - edges[band]
    assert abs(edges[band + 1] - 1000) < width
    assert edges[band] < 1000 < edges[band + 2]


def test_log_mel_spectrogram_rejects_bad_signals():
    with pytest.raises(ValueError, match="mono"):
        log_mel_spectrogram(np.zeros((100, 2)), 8000)
    with pytest.raises(ValueError, match="empty"):
        log_mel_spectrogram(np.zeros(0), 8000)
    with pytest.raises(ValueError, match="NaN"):
        log_mel_spectrogram(np.array([0.0, np.nan]), 8000)


def test_mix_at_snr_puts_the_noise_exactly_where_asked():
    rng = np.random.default_rng(0)
    signal, noise = rng.normal(size=(3, 500)) * [[0.1], [1.0], [5.0]], rng.uniform(-1, 1, size=(3, 500))
    for snr in (-5.0, 0.0, 12.5):
        added = mix_at_snr(signal, noise, snr) - signal
        ratio = np.mean(signal**2, axis=1) / np.mean(added**2, axis=1)
        np.testing.assert_allclose(10 * np.log10(ratio), snr, atol=1e-9)
        np.testing.assert_allclose(added / noise, added[:, :1] / noise[:, :1] * np.ones((1, 500)))  # a gain per row
    added = mix_at_snr(signal, noise, -5.0, signal_power=np.array([1.0, 2.0, 0.0])) - signal
    np.testing.assert_allclose(10 * np.log10(np.array([1.0, 2.0]) / np.mean(added[:2] ** 2, axis=1)), -5.0)
    assert not added[2].any()  # no signal power, no noise
    with pytest.raises(ValueError, match="one shape"):
        mix_at_snr(signal, noise[:, :10], 0.0)
    with pytest.raises(ValueError, match="finite"):
        mix_at_snr(signal, noise, float("nan"))
    with pytest.raises(ValueError, match="positive power"):
        mix_at_snr(signal, np.zeros_like(noise), 0.0)


def test_noisy_windows_measure_the_snr_over_the_speech_samples():
    rng = np.random.default_rng(1)
    waves = [rng.normal(size=n) for n in (300, 1000, 2500)]  # shorter than, equal to, longer than the window
    names = ["0_a_1.wav", "1_a_1.wav", "2_b_3.wav"]
    clean = noisy_windows(waves, names, 1000, None)
    noisy = noisy_windows(waves, names, 1000, -5.0)
    np.testing.assert_array_equal(clean, np.stack([fix_length(w, 1000) for w in waves]))
    noise = noisy - clean
    speech = np.array([np.mean(w**2) for w in (waves[0], waves[1], fix_length(waves[2], 1000))])
    np.testing.assert_allclose(10 * np.log10(speech / np.mean(noise**2, axis=1)), -5.0, atol=1e-9)
    assert np.all(noise[0, :350] != 0)  # the noise fills the padding too
    for row, name in enumerate(names):  # the noise is the file's own seeded white noise, scaled
        base = recording_noise(name, 1000)
        np.testing.assert_allclose(noise[row] / base, noise[row, 0] / base[0])
    np.testing.assert_array_equal(noisy_windows(waves, names, 1000, -5.0), noisy)
    assert not np.allclose(recording_noise("0_a_1.wav", 50), recording_noise("0_a_2.wav", 50))


def test_pca_keep_energy_keeps_the_fewest_components_reaching_the_share():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 10)) * np.geomspace(4.0, 0.1, 10) + 3.0
    test = rng.normal(size=(20, 10)) * np.geomspace(4.0, 0.1, 10) + 3.0
    for energy in (0.25, 0.6, 0.9):
        train_r, test_r, k, kept = pca_keep_energy(X, test, energy)
        centred = X - X.mean(axis=0)
        share = np.sum((train_r - X.mean(axis=0)) ** 2) / np.sum(centred**2)
        assert share == pytest.approx(kept) and kept >= energy
        eigen = np.linalg.svd(centred, compute_uv=False) ** 2
        assert eigen[: k - 1].sum() / eigen.sum() < energy  # one component fewer would not reach it
        assert np.linalg.matrix_rank(train_r - X.mean(axis=0)) == k
        again, test_again, _, _ = pca_keep_energy(X, train_r, energy)  # a projection: idempotent on its range
        np.testing.assert_allclose(test_again, train_r, atol=1e-9)
        np.testing.assert_array_equal(again, train_r)
        assert np.linalg.matrix_rank(np.vstack([train_r, test_r]) - X.mean(axis=0)) == k  # the same subspace
    with pytest.raises(ValueError, match="energy"):
        pca_keep_energy(X, test, 0.0)


@pytest.mark.parametrize("name", ["audio", "supervised", "diabetes2", "avmnist"])
def test_docstring_examples_run(name):
    module = importlib.import_module(f"otmix.data.{name}")
    failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


# ---------------------------------------------------------------- AV-MNIST on the real data folder


@pytest.fixture(scope="module")
def avmnist_built():
    """AV-MNIST (random_state=0) with its provenance, built once; skipped without the data folder (failed in CI)."""
    return _build_avmnist(require_data_root(), 0)


def test_avmnist_shapes_and_classes(avmnist_built):
    data, _ = avmnist_built
    assert data.name == "avmnist" and data.task == "classification"
    assert data.modality_names == ["image", "audio"]
    assert [X.shape for X in data.X_train] == [(2700, 784), (2700, 400)]
    assert [X.shape for X in data.X_test] == [(300, 784), (300, 400)]
    assert data.n_modalities == 2 and data.n_classes == 10
    assert data.y_train.dtype == np.int64 and data.y_test.dtype == np.int64
    assert np.bincount(data.y_train).tolist() == [270] * 10
    assert np.bincount(data.y_test).tolist() == [30] * 10
    assert all(X.dtype == np.float64 and np.all(np.isfinite(X)) for X in data.X_train + data.X_test)
    assert data.X_train[0].min() >= 0 and data.X_train[0].max() <= 1 and data.X_test[0].max() <= 1
    assert np.bincount(data.groups_train).tolist() == [450] * 6
    summary = data.summary()
    json.dumps(summary)
    assert summary["n_features"] == [784, 400] and summary["n_groups"] == 6


def test_avmnist_split_follows_fsdd_rule(avmnist_built):
    data, prov = avmnist_built
    parsed_train = [FSDD_NAME.fullmatch(n).groups() for n in prov.train_recordings]
    parsed_test = [FSDD_NAME.fullmatch(n).groups() for n in prov.test_recordings]
    assert len(parsed_train) == 2700 and len(parsed_test) == 300
    assert all(int(index) >= 5 for _, _, index in parsed_train)
    assert all(int(index) <= 4 for _, _, index in parsed_test)
    assert not set(prov.train_recordings) & set(prov.test_recordings)
    assert [int(d) for d, _, _ in parsed_train] == data.y_train.tolist()
    assert [int(d) for d, _, _ in parsed_test] == data.y_test.tolist()
    assert [prov.speakers.index(s) for _, s, _ in parsed_train] == data.groups_train.tolist()
    assert prov.speakers == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def test_avmnist_images_paired_by_digit(avmnist_built):
    data, prov = avmnist_built
    root = data_root()
    pixels, labels = _read_train_images(root)
    assert len(np.unique(prov.train_image_rows)) == 2700  # no reuse
    np.testing.assert_array_equal(labels[prov.train_image_rows], data.y_train)
    np.testing.assert_array_equal(pixels[prov.train_image_rows] / 255.0, data.X_train[0])
    test_pixels, test_labels = _read_test_images(root)
    assert len(np.unique(prov.test_image_rows)) == 300
    np.testing.assert_array_equal(test_labels[prov.test_image_rows], data.y_test)
    np.testing.assert_array_equal(test_pixels[prov.test_image_rows] / 255.0, data.X_test[0])


def test_avmnist_audio_standardised_on_train(avmnist_built):
    data, _ = avmnist_built
    np.testing.assert_allclose(data.X_train[1].mean(axis=0), 0.0, atol=1e-8)
    np.testing.assert_allclose(data.X_train[1].std(axis=0), 1.0, atol=1e-8)
    assert abs(data.X_test[1].mean()) < 0.3  # test rows use training statistics, so only roughly standard


def test_avmnist_seeded_pairing(avmnist_built):
    # Determinism for one seed is checked cheaply on the synthetic folder and in test_pair_images_*.
    data, _ = avmnist_built
    other = load_supervised("AVMNIST", random_state=1)
    np.testing.assert_array_equal(other.y_train, data.y_train)
    np.testing.assert_array_equal(other.X_train[1], data.X_train[1])  # audio does not depend on the seed
    assert not np.array_equal(other.X_train[0], data.X_train[0])
    assert not np.array_equal(other.X_test[0], data.X_test[0])


@pytest.fixture(scope="module")
def hard_built():
    """avmnist-hard (random_state=0) with its provenance; skipped without the data folder (failed in CI)."""
    return _build_avmnist(require_data_root(), 0, HARD_IMAGE_ENERGY, HARD_SNR_DB)


def test_avmnist_hard_keeps_a_quarter_of_the_image_energy(hard_built, avmnist_built):
    hard, prov = hard_built
    easy, easy_prov = avmnist_built
    assert hard.name == "avmnist-hard" and hard.modality_names == ["image", "audio"]
    assert [X.shape for X in hard.X_train] == [(2700, 784), (2700, 400)]
    assert [X.shape for X in hard.X_test] == [(300, 784), (300, 400)]
    assert all(X.dtype == np.float64 and np.all(np.isfinite(X)) for X in hard.X_train + hard.X_test)
    np.testing.assert_array_equal(hard.y_train, easy.y_train)  # the same rows, the same pairing
    np.testing.assert_array_equal(hard.y_test, easy.y_test)
    np.testing.assert_array_equal(prov.train_image_rows, easy_prov.train_image_rows)
    np.testing.assert_array_equal(hard.groups_train, easy.groups_train)
    mean = easy.X_train[0].mean(axis=0)
    for split, (Xh, Xe) in enumerate(zip((hard.X_train[0], hard.X_test[0]), (easy.X_train[0], easy.X_test[0]))):
        kept = np.sum((Xh - mean) ** 2) / np.sum((Xe - mean) ** 2)
        if split == 0:
            assert kept == pytest.approx(prov.image_energy_kept) and 0.25 <= kept < 0.30
        else:
            assert 0.2 < kept < 0.3  # the test images, through the training components: about a quarter too
    assert prov.image_components == 4 and np.linalg.matrix_rank(hard.X_train[0] - mean) == 4
    np.testing.assert_allclose(hard.X_train[0], pca_keep_energy(easy.X_train[0], easy.X_test[0], 0.25)[0])
    assert "25%" in hard.description and "-5 dB" in hard.description


def test_avmnist_hard_audio_is_the_noisy_recordings(hard_built, avmnist_built):
    hard, prov = hard_built
    easy, _ = avmnist_built
    np.testing.assert_allclose(hard.X_train[1].mean(axis=0), 0.0, atol=1e-8)  # standardised on train
    np.testing.assert_allclose(hard.X_train[1].std(axis=0), 1.0, atol=1e-8)
    corr = np.corrcoef(hard.X_train[1].ravel(), easy.X_train[1].ravel())[0, 1]
    assert 0.2 < corr < 0.9  # degraded, not replaced (determinism: on the synthetic folder)


def test_avmnist_hard_on_synthetic_folder_follows_its_recipe(tmp_path, rng):
    root = _fake_data(tmp_path / "data", rng)
    easy, easy_prov = _build_avmnist(root, 3)
    hard, prov = _build_avmnist(root, 3, 0.25, -5.0)
    np.testing.assert_array_equal(prov.train_image_rows, easy_prov.train_image_rows)
    images = pca_keep_energy(easy.X_train[0], easy.X_test[0], 0.25)
    np.testing.assert_allclose(hard.X_train[0], images[0])
    np.testing.assert_allclose(hard.X_test[0], images[1])
    # the audio by hand: read, centre in 0.8 s, the file's noise at -5 dB of the speech power, log-mel, standardise
    folder = root / "fsdd" / "recordings"
    feats = []
    for name in prov.train_recordings + prov.test_recordings:
        rate, pcm = wavfile.read(folder / name)
        wave = pcm / 32768.0
        window = fix_length(wave, 6400)
        power = np.sum(window**2) / min(len(wave), 6400)
        noisy = mix_at_snr(window, recording_noise(name, 6400), -5.0, signal_power=power)
        feats.append(log_mel_frames(noisy[None], rate)[0])
    feats = np.array(feats)
    train, test = feats[: len(prov.train_recordings)], feats[len(prov.train_recordings):]
    mu, sd = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(hard.X_train[1], (train - mu) / sd, atol=1e-9)
    np.testing.assert_allclose(hard.X_test[1], (test - mu) / sd, atol=1e-9)
    again = load_avmnist_hard(root, random_state=3)
    assert load_supervised("AVMNIST-hard", data_dir=root, random_state=3).name == "avmnist-hard"
    np.testing.assert_array_equal(again.X_train[1], hard.X_train[1])
    np.testing.assert_array_equal(again.X_test[0], hard.X_test[0])
    other = load_avmnist_hard(root, random_state=4)
    np.testing.assert_array_equal(other.X_train[1], hard.X_train[1])  # the noise does not follow the seed
    with pytest.raises(ValueError, match="both"):
        _build_avmnist(root, 3, 0.25, None)


def test_pair_images_deterministic_without_reuse():
    digits = np.repeat(np.arange(3), 4)
    pool = np.repeat(np.arange(3), 6)
    a = _pair_images(digits, pool, np.random.default_rng(5), "pool")
    b = _pair_images(digits, pool, np.random.default_rng(5), "pool")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pool[a], digits)
    assert len(np.unique(a)) == len(a)
    with pytest.raises(ValueError, match="pool has 6 images of digit 0, 7 are needed"):
        _pair_images(np.zeros(7, dtype=int), pool, np.random.default_rng(0), "pool")


# ---------------------------------------------------------------- AV-MNIST on a small synthetic folder


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _fake_data(root, rng):
    """A tiny folder shaped like the real one: 2 digits x 2 speakers x indices {0, 5, 6}."""
    (root / "mnist").mkdir(parents=True)
    (root / "fsdd" / "recordings").mkdir(parents=True)
    labels = np.repeat(np.arange(2), 5)
    table = np.column_stack([rng.integers(0, 256, size=(10, 784)), labels])
    with gzip.open(root / "mnist" / "mnist_5k.csv.gz", "wt") as handle:
        np.savetxt(handle, table, fmt="%d", delimiter=",")
    _write_idx(root / "mnist" / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, size=(6, 28, 28)))
    _write_idx(root / "mnist" / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 0, 1, 0, 1]))
    for digit in range(2):
        for speaker in ("bob", "amy"):
            for index in (0, 5, 6):
                n = int(rng.integers(500, 9000))
                pcm = (3000 * rng.normal(size=n)).astype(np.int16)
                wavfile.write(root / "fsdd" / "recordings" / f"{digit}_{speaker}_{index}.wav", 8000, pcm)
    (root / "fsdd" / "recordings" / "README.txt").write_text("not a recording")
    return root


def test_avmnist_on_synthetic_folder(tmp_path, rng):
    root = _fake_data(tmp_path / "data", rng)
    data, prov = _build_avmnist(root, 3)
    assert [X.shape for X in data.X_train] == [(8, 784), (8, 400)]
    assert [X.shape for X in data.X_test] == [(4, 784), (4, 400)]
    assert data.y_train.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert prov.speakers == ["amy", "bob"] and data.groups_train.tolist() == [0, 0, 1, 1] * 2
    assert all(int(FSDD_NAME.fullmatch(n).group(3)) == 0 for n in prov.test_recordings)
    again = load_avmnist(root, random_state=3)
    np.testing.assert_array_equal(again.X_train[0], data.X_train[0])
    np.testing.assert_array_equal(again.X_test[1], data.X_test[1])


def test_avmnist_missing_folder_names_otmix_data(tmp_path, monkeypatch):
    monkeypatch.setenv("OTMIX_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="OTMIX_DATA") as info:
        load_avmnist()
    assert str(tmp_path) in str(info.value)
    with pytest.raises(FileNotFoundError, match="OTMIX_DATA"):
        load_supervised("avmnist")


def test_avmnist_without_recordings(tmp_path, rng):
    root = _fake_data(tmp_path / "data", rng)
    for wav in (root / "fsdd" / "recordings").glob("*.wav"):
        wav.unlink()
    with pytest.raises(FileNotFoundError, match="no .*wav files"):
        load_avmnist(root)


def test_avmnist_corrupt_files(tmp_path, rng):
    root = _fake_data(tmp_path / "data", rng)
    bad_wav = root / "fsdd" / "recordings" / "1_amy_6.wav"
    bad_wav.write_bytes(b"RIFF not really a wav file")
    with pytest.raises(ValueError, match="1_amy_6.wav"):
        load_avmnist(root)

    root = _fake_data(tmp_path / "data2", rng)
    idx = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    idx.write_bytes(gzip.compress(gzip.decompress(idx.read_bytes())[:-10]))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_avmnist(root)
    idx.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_avmnist(root)


def test_avmnist_too_few_images(tmp_path, rng):
    root = _fake_data(tmp_path / "data", rng)
    for index in (7, 8, 9):
        wavfile.write(root / "fsdd" / "recordings" / f"0_amy_{index}.wav", 8000, np.ones(800, dtype=np.int16))
    with pytest.raises(ValueError, match="mnist_5k.csv.gz has 5 images of digit 0, 7 are needed"):
        load_avmnist(root)


# ---------------------------------------------------------------- diabetes2 and the registry


def test_diabetes2_shapes_and_scaling():
    data = load_diabetes2()
    assert data.name == "diabetes2" and data.task == "regression"
    assert data.modality_names == ["clinical", "serum"]
    assert [X.shape for X in data.X_train] == [(353, 4), (353, 6)]
    assert [X.shape for X in data.X_test] == [(89, 4), (89, 6)]
    assert data.y_train.dtype == np.float64 and data.y_train.shape == (353,) and data.y_test.shape == (89,)
    assert data.y_train.min() >= 25 and data.y_train.max() <= 346  # unscaled target
    assert data.groups_train is None and data.n_classes is None
    for X in data.X_train:
        np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(X.std(axis=0), 1.0, atol=1e-12)
    json.dumps(data.summary())


def test_diabetes2_split_is_deterministic_and_seeded():
    a, b, c = load_diabetes2(0), load_diabetes2(0), load_diabetes2(1)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.X_test[1], b.X_test[1])
    assert not np.array_equal(a.y_train, c.y_train)
    np.testing.assert_allclose(
        np.sort(np.concatenate([a.y_train, a.y_test])), np.sort(np.concatenate([c.y_train, c.y_test]))
    )
    np.testing.assert_array_equal(load_supervised("Diabetes2", random_state=1).y_test, c.y_test)


def test_load_supervised_unknown_name():
    assert SUPERVISED_NAMES == ("avmnist", "avmnist-hard", "diabetes2")
    with pytest.raises(ValueError,
                       match=r"^unknown supervised dataset 'x'; choose one of avmnist, avmnist-hard, diabetes2$"):
        load_supervised("x")


def test_supervised_data_checks_alignment():
    with pytest.raises(ValueError, match="modality 'b'"):
        SupervisedData(
            "t",
            "regression",
            ["a", "b"],
            [np.zeros((3, 1)), np.zeros((2, 1))],
            np.zeros(3),
            [np.zeros((1, 1)), np.zeros((1, 1))],
            np.zeros(1),
            None,
            "",
        )
    with pytest.raises(ValueError, match="task"):
        SupervisedData(
            "t", "ranking", ["a"], [np.zeros((1, 1))], np.zeros(1), [np.zeros((1, 1))], np.zeros(1), None, ""
        )
