"""The local Polly: SynthesizeSpeech answered with real speech from espeak-ng (a Debian package) in the voice's
language and gender, encoded as asked: ``pcm`` (16-bit mono, 8 or 16 kHz) with numpy; ``mp3``, ``ogg_vorbis``,
``ogg_opus`` and ``mulaw``/``alaw`` (8 kHz) with the soundfile package (libsndfile), else WAV audio and a log
line saying so. Without espeak-ng the answer is a short silent clip in the asked format (said in the log).
Speech marks (``OutputFormat=json``) are not produced: an empty stream is returned. Other Polly operations
(DescribeVoices, lexicons) are moto's.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
import threading
import uuid
import wave
from fractions import Fraction
from urllib.parse import parse_qsl

import numpy as np

from .wire import Call, json_error

log = logging.getLogger(__name__)

MAX_CHARACTERS = 3000
CONTENT_TYPES = {"mp3": "audio/mpeg", "ogg_vorbis": "audio/ogg", "ogg_opus": "audio/ogg", "pcm": "audio/pcm",
                 "mulaw": "audio/basic", "alaw": "audio/basic", "json": "application/x-json-stream"}
RATES = {"mp3": ("8000", "16000", "22050", "24000", "44100", "48000"), "pcm": ("8000", "16000"),
         "ogg_opus": ("48000",), "mulaw": ("8000",), "alaw": ("8000",)}
RATES["ogg_vorbis"] = RATES["mp3"]
DEFAULT_RATE = {"mp3": 22050, "ogg_vorbis": 22050, "pcm": 16000, "ogg_opus": 48000, "mulaw": 8000, "alaw": 8000}
_ESPEAK_ALIASES = {"arb": "ar", "ar-ae": "ar", "cmn-cn": "cmn", "yue-cn": "yue", "en-gb-wls": "en-gb",
                   "es-mx": "es-419", "es-us": "es-419", "fr-ca": "fr-fr", "fr-fr": "fr-fr", "pt-pt": "pt"}


class PollyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@functools.cache
def _voices() -> dict[str, tuple[str, str]]:
    """Polly voice id -> (language code, gender), from moto's copy of DescribeVoices."""
    from moto.polly.resources import VOICE_DATA

    # VOICE_DATA's values are inferred as Sequence[str] (SupportedEngines is a list); these three are strings
    return {str(v["Id"]): (str(v["LanguageCode"]), str(v["Gender"])) for v in VOICE_DATA}


@functools.cache
def _espeak_languages(binary: str) -> frozenset[str]:
    out = subprocess.run([binary, "--voices"], capture_output=True, text=True, timeout=30).stdout
    return frozenset(line.split()[1].lower() for line in out.splitlines()[1:] if len(line.split()) > 1)


def espeak_voice(binary: str, voice_id: str, language: str | None) -> str:
    """The espeak-ng voice for a Polly voice (its language, or ``language``; +f3/+m3 for the gender)."""
    code, gender = _voices().get(voice_id, ("en-US", "Female"))
    code = (language or code).lower()
    known = _espeak_languages(binary)
    candidates = [code, _ESPEAK_ALIASES.get(code, ""), code.split("-")[0]]
    name = next((c for c in candidates if c and c in known), "en-us")
    return f"{name}+{'f3' if gender == 'Female' else 'm3'}"


def _to_rate(samples: np.ndarray, rate: int, wanted: int) -> np.ndarray:
    if rate == wanted:
        return samples
    from scipy.signal import resample_poly

    ratio = Fraction(wanted, rate).limit_denominator(1000)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


class Polly:
    """Handler for the gateway: ``handle(call)`` answers SynthesizeSpeech, or returns None for moto."""

    def __init__(self, espeak: str = "espeak-ng") -> None:
        self._espeak = shutil.which(espeak)
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def _once(self, key: str, message: str, *args) -> None:
        with self._lock:
            if key in self._said:
                return
            self._said.add(key)
        log.info(message, *args)

    def handle(self, call: Call):
        if not call.path.rstrip("/").endswith("/v1/speech"):
            return None
        try:
            req = call.json() if call.method == "POST" else dict(parse_qsl(call.query))
            audio, fmt = self.synthesize(req)
        except PollyError as err:
            return json_error(err.code, err.message)
        text = str(req.get("Text", ""))
        return ("200 OK", [("Content-Type", CONTENT_TYPES.get(fmt, "audio/wav")), ("Content-Length", str(len(audio))),
                           ("x-amzn-RequestCharacters", str(len(text))), ("x-amzn-RequestId", str(uuid.uuid4()))],
                audio)

    def synthesize(self, req: dict) -> tuple[bytes, str]:
        """(audio bytes, format actually produced) for a SynthesizeSpeech request."""
        text, fmt = str(req.get("Text", "")), str(req.get("OutputFormat", ""))
        if fmt not in CONTENT_TYPES:
            raise PollyError("ValidationException", f"OutputFormat {fmt!r} is not one of {', '.join(CONTENT_TYPES)}")
        if len(text) > MAX_CHARACTERS:
            raise PollyError("TextLengthExceededException", f"Maximum text length has been exceeded ({len(text)})")
        if fmt == "json":
            self._once("marks", "Polly speech marks are not produced locally: an empty stream is returned")
            return b"", fmt
        rate = str(req.get("SampleRate") or DEFAULT_RATE[fmt])
        if rate not in RATES[fmt]:
            raise PollyError("InvalidSampleRateException", f"Invalid sample rate {rate} for {fmt}")
        samples, source_rate = self._speak(text, req)
        return self._encode(_to_rate(samples, source_rate, int(rate)), int(rate), fmt)

    def _speak(self, text: str, req: dict) -> tuple[np.ndarray, int]:
        """Float mono samples and their rate: espeak-ng's speech, or 0.5 s of silence without it."""
        if self._espeak is None:
            self._once("silent", "Polly: espeak-ng is not installed (Debian: apt-get install espeak-ng): "
                                 "SynthesizeSpeech answers a short silent clip")
            return np.zeros(11025, np.float32), 22050
        voice = espeak_voice(self._espeak, str(req.get("VoiceId", "Joanna")), req.get("LanguageCode"))
        args = [self._espeak, "--stdout", "-v", voice, "--stdin"] + (["-m"] if req.get("TextType") == "ssml" else [])
        done = subprocess.run(args, input=text.encode(), capture_output=True, timeout=60)
        if done.returncode != 0 or len(done.stdout) < 44:
            if req.get("TextType") == "ssml":
                raise PollyError("InvalidSsmlException", "The SSML you provided is invalid")
            raise PollyError("ServiceFailureException", done.stderr.decode(errors="replace").strip()[:200])
        with wave.open(io.BytesIO(done.stdout)) as wav:
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0, rate

    def _encode(self, samples: np.ndarray, rate: int, fmt: str) -> tuple[bytes, str]:
        if fmt == "pcm":
            return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes(), fmt
        try:
            import soundfile
        except ImportError:
            self._once("wav", "Polly: %s needs the soundfile package (pip install soundfile): answering WAV audio",
                       fmt)
            out = io.BytesIO()
            with wave.open(out, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(rate)
                wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
            return out.getvalue(), "wav"
        container, subtype = {"mp3": ("MP3", "MPEG_LAYER_III"), "ogg_vorbis": ("OGG", "VORBIS"),
                              "ogg_opus": ("OGG", "OPUS"), "mulaw": ("RAW", "ULAW"), "alaw": ("RAW", "ALAW")}[fmt]
        out = io.BytesIO()
        soundfile.write(out, samples, rate, format=container, subtype=subtype)
        return out.getvalue(), fmt
