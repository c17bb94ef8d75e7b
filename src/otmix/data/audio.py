"""Audio features with numpy and scipy only: an HTK mel filterbank and fixed-size log-mel spectrograms."""

from __future__ import annotations

import numpy as np

__all__ = [
    "fix_length",
    "mix_at_snr",
    "hz_to_mel",
    "log_mel_frames",
    "log_mel_spectrogram",
    "mel_band_edges",
    "mel_filterbank",
    "mel_to_hz",
]

LOG_FLOOR = 1e-6


def hz_to_mel(freq: float | np.ndarray) -> float | np.ndarray:
    """HTK mel scale: ``mel = 2595 * log10(1 + f / 700)``.

    Examples
    --------
    >>> round(float(hz_to_mel(1000.0)), 1)
    1000.0
    """
    return 2595.0 * np.log10(1.0 + np.asarray(freq, dtype=np.float64) / 700.0)


def mel_to_hz(mel: float | np.ndarray) -> float | np.ndarray:
    """Inverse of :func:`hz_to_mel`: ``f = 700 * (10 ** (mel / 2595) - 1)``.

    Examples
    --------
    >>> round(float(mel_to_hz(hz_to_mel(440.0))), 6)
    440.0
    """
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_band_edges(n_mels: int, sample_rate: float, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """The ``n_mels + 2`` band edges in Hz, equally spaced on the HTK mel scale from ``fmin`` to ``fmax``.

    Filter ``m`` rises from ``edges[m]``, peaks at its centre ``edges[m + 1]`` and falls to ``edges[m + 2]``.

    Examples
    --------
    >>> mel_band_edges(2, 8000)[[0, -1]].tolist()
    [0.0, 4000.0]
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, fmax={fmax}, rate={sample_rate}")
    mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), int(n_mels) + 2)
    edges = np.asarray(mel_to_hz(mels), dtype=np.float64)
    edges[0], edges[-1] = fmin, fmax  # exact ends despite round-off
    return edges


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: float, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular filters on the HTK mel scale, one row per band, one column per FFT bin.

    The band edges ``f_0 < f_1 < ... < f_{M+1}`` (``M = n_mels``) are equally spaced in
    ``mel(f) = 2595 log10(1 + f / 700)`` between ``fmin`` and ``fmax`` (default ``sample_rate / 2``).
    At bin frequency ``f_k = k * sample_rate / n_fft`` (``k = 0..n_fft // 2``) filter ``m`` is the triangle

    ``t_m(f_k) = max(0, min((f_k - f_m) / (f_{m+1} - f_m), (f_{m+2} - f_k) / (f_{m+2} - f_{m+1})))``

    rescaled so that each filter's largest weight is exactly 1 (the triangle peaks at 1 at its centre
    ``f_{m+1}``; the rescaling only matters when no bin falls on the centre). Filters are ordered by
    increasing centre frequency.

    Parameters
    ----------
    n_mels : int
        Number of bands, at least 1.
    n_fft : int
        FFT length, at least 2; the filters have ``n_fft // 2 + 1`` columns.
    sample_rate : float
        In Hz.
    fmin, fmax : float
        Lowest and highest edge in Hz; ``0 <= fmin < fmax <= sample_rate / 2``.

    Returns
    -------
    ndarray of shape (n_mels, n_fft // 2 + 1)
        Non-negative weights.

    Raises
    ------
    ValueError
        On bad sizes or frequencies, or when a band is so narrow that it covers no FFT bin.

    Examples
    --------
    >>> fb = mel_filterbank(20, 512, 8000)
    >>> fb.shape, float(fb.max(axis=1).min())
    ((20, 257), 1.0)
    """
    if int(n_mels) != n_mels or n_mels < 1:
        raise ValueError(f"n_mels must be a positive integer, got {n_mels!r}")
    if int(n_fft) != n_fft or n_fft < 2:
        raise ValueError(f"n_fft must be an integer >= 2, got {n_fft!r}")
    if not np.isfinite(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
    n_mels, n_fft = int(n_mels), int(n_fft)
    edges = mel_band_edges(n_mels, sample_rate, fmin, fmax)
    freqs = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    peaks = weights.max(axis=1)
    if np.any(peaks <= 0):
        band = int(np.argmin(peaks))
        raise ValueError(f"mel band {band} covers no FFT bin; use fewer mel bands or a larger n_fft (got {n_fft})")
    return weights / peaks[:, None]


def _as_signal(signal: np.ndarray) -> np.ndarray:
    """A 1-D float64 waveform; integer PCM is scaled to [-1, 1)."""
    x = np.asarray(signal)
    if x.ndim == 2 and 1 in x.shape:
        x = x.ravel()
    if x.ndim != 1:
        raise ValueError(f"signal must be 1-D (mono), got shape {x.shape}")
    if x.size == 0:
        raise ValueError("signal is empty")
    if np.issubdtype(x.dtype, np.integer):
        half = 2.0 ** (np.iinfo(x.dtype).bits - 1)
        offset = half if np.issubdtype(x.dtype, np.unsignedinteger) else 0.0  # 8-bit WAV is unsigned
        x = (x.astype(np.float64) - offset) / half
    else:
        x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("signal has NaN or infinite samples")
    return x


def fix_length(signal: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre ``signal`` in ``n_samples`` samples: zero-pad both sides equally, or crop the middle.

    Examples
    --------
    >>> fix_length(np.array([1.0, 2.0]), 4).tolist()
    [0.0, 1.0, 2.0, 0.0]
    >>> fix_length(np.arange(5.0), 3).tolist()
    [1.0, 2.0, 3.0]
    """
    n = signal.shape[-1]
    if n >= n_samples:
        start = (n - n_samples) // 2
        return signal[..., start : start + n_samples]
    left = (n_samples - n) // 2
    out = np.zeros(signal.shape[:-1] + (n_samples,), dtype=np.float64)
    out[..., left : left + n] = signal
    return out


def mix_at_snr(
    signal: np.ndarray, noise: np.ndarray, snr_db: float, signal_power: float | np.ndarray | None = None
) -> np.ndarray:
    r"""``signal + g * noise``, the gain ``g`` putting the noise ``snr_db`` decibels below the signal.

    With :math:`P_s` the signal's mean power (``signal_power``; default ``mean(signal**2)``
    over the last axis) and :math:`\bar n^2 = \operatorname{mean}(noise^2)`, the gain is
    :math:`g = \sqrt{P_s / (10^{\mathrm{SNR}/10}\, \bar n^2)}`, so that
    :math:`10 \log_{10}(P_s / \operatorname{mean}((g\,noise)^2)) = \mathrm{SNR}` exactly. A silent
    signal (:math:`P_s = 0`) gets no noise.

    Parameters
    ----------
    signal, noise : ndarray of shape (..., n_samples)
        Waveforms of one shape (a batch: one row per signal).
    snr_db : float
        Signal-to-noise ratio in dB (any finite value; negative: more noise than signal).
    signal_power : float or ndarray of shape (...), optional
        The signal power to measure the SNR against, e.g. the mean power over the samples
        that are speech rather than zero padding.

    Returns
    -------
    ndarray of the signal's shape, float64

    Examples
    --------
    >>> s, n = np.array([1.0, -1.0, 1.0, -1.0]), np.array([1.0, 1.0, -1.0, -1.0])
    >>> mix_at_snr(s, n, 20.0).tolist()  # noise power 1 / 100 of the signal's: amplitude 0.1
    [1.1, -0.9, 0.9, -1.1]
    """
    x, n = np.asarray(signal, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    if x.shape != n.shape:
        raise ValueError(f"signal and noise must have one shape, got {x.shape} and {n.shape}")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db!r}")
    power = np.mean(x**2, axis=-1) if signal_power is None else np.asarray(signal_power, dtype=np.float64)
    noise_power = np.mean(n**2, axis=-1)
    if np.any(noise_power <= 0) or np.any(power < 0):
        raise ValueError("the noise must have positive power and the signal power must be >= 0")
    gain = np.sqrt(power / (10.0 ** (snr_db / 10.0) * noise_power))
    return x + np.asarray(gain)[..., None] * n


def _frame_settings(sample_rate: float, n_frames: int, duration: float) -> tuple[int, int]:
    """Hop and window length (= FFT length) in samples: ``hop = round(duration * rate) // n_frames``, window 2 hops."""
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
    if not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be positive, got {duration!r}")
    if not np.isfinite(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
    hop = int(round(duration * sample_rate)) // int(n_frames)
    if hop < 1:
        raise ValueError(f"duration {duration} s at {sample_rate} Hz is too short for {n_frames} frames")
    return hop, 2 * hop


def log_mel_frames(
    signals: np.ndarray, sample_rate: float, n_mels: int = 20, n_frames: int = 20, duration: float = 0.8
) -> np.ndarray:
    """Batched :func:`log_mel_spectrogram` for float waveforms already cut to ``round(duration * rate)`` samples.

    Parameters
    ----------
    signals : ndarray of shape (n_signals, round(duration * sample_rate))

    Returns
    -------
    ndarray of shape (n_signals, n_mels * n_frames)
    """
    from scipy.signal import stft

    hop, window = _frame_settings(sample_rate, n_frames, duration)
    x = np.asarray(signals, dtype=np.float64)
    x = x[:, : hop * int(n_frames)]
    # Half a hop of zeros on each side so that frame i is centred on sample (i + 1/2) * hop.
    x = np.pad(x, ((0, 0), (hop // 2, hop - hop // 2)))
    _, _, spec = stft(
        x, fs=sample_rate, window="hann", nperseg=window, noverlap=window - hop, boundary=None, padded=False, axis=-1
    )
    power = np.abs(spec) ** 2  # (n_signals, n_fft // 2 + 1, n_frames)
    mel = np.matmul(mel_filterbank(n_mels, window, sample_rate), power)  # (n_signals, n_mels, n_frames)
    return np.log(mel + LOG_FLOOR).reshape(len(x), -1)


def log_mel_spectrogram(
    signal: np.ndarray, sample_rate: float, n_mels: int = 20, n_frames: int = 20, duration: float = 0.8
) -> np.ndarray:
    """A fixed-size log-mel spectrogram of a mono waveform, flattened band-major.

    1. Integer PCM is scaled to [-1, 1) (int16: divide by 32768; uint8: subtract 128, divide by 128);
       floats are used as given.
    2. The waveform is centred in ``L = round(duration * sample_rate)`` samples: zero-padded on both
       sides when shorter, its middle kept when longer.
    3. Short-time Fourier transform (``scipy.signal.stft``, Hann window, scipy's ``1 / sum(window)``
       scaling) with hop ``H = L // n_frames`` and window = FFT length ``N = 2 H`` (50% overlap), after
       padding ``H / 2`` zeros on each side, so there are exactly ``n_frames`` frames, frame ``t``
       centred on sample ``(t + 1/2) H``. Power ``P[f, t] = |STFT[f, t]|^2``.
    4. Mel energies ``E[m, t] = sum_f W[m, f] P[f, t]`` with ``W = mel_filterbank(n_mels, N, sample_rate)``
       (0 Hz to Nyquist).
    5. Features ``log(E[m, t] + 1e-6)``, returned as ``E.ravel()``: entry ``m * n_frames + t``.

    At 8 kHz with the defaults: ``L = 6400``, ``H = 320`` (40 ms), ``N = 640`` (80 ms), 400 features.

    Parameters
    ----------
    signal : ndarray of shape (n_samples,)
        Mono waveform, integer PCM or float.
    sample_rate : float
        In Hz.
    n_mels, n_frames : int
        Bands and frames.
    duration : float
        Seconds the waveform is padded or cropped to.

    Returns
    -------
    ndarray of shape (n_mels * n_frames,)

    Examples
    --------
    >>> t = np.arange(4000) / 8000
    >>> feats = log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t), 8000)
    >>> feats.shape, bool(np.all(np.isfinite(feats)))
    ((400,), True)
    """
    x = _as_signal(signal)
    _frame_settings(sample_rate, n_frames, duration)
    x = fix_length(x, int(round(duration * sample_rate)))
    return log_mel_frames(x[None, :], sample_rate, n_mels, n_frames, duration)[0]
