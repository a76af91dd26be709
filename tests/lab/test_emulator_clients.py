"""Each emulator is accepted by the product's official client library, where one exists.

* `openai` (`client.models.list()`) against every OpenAI-compatible emulator, open and
  keyed: the key variant refuses without the lab key and answers with it;
* `qdrant-client`, `weaviate-client` (v4, REST calls only: `skip_init_checks`, no gRPC),
  `tritonclient[http]`; the `ollama` client is covered by tests/lab/test_ollama_emulator*.

Not covered: pymilvus (its MilvusClient speaks gRPC only, the emulator serves the REST
API), LM Studio's `lmstudio` SDK (websocket protocol), Ray's and ComfyUI's (none small).
Clients missing here are skipped, or fail where $AICENSUS_REQUIRE_LAB_ALL is set.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aicensus.lab.emulators.generic import LAB_KEY
from tests.support.lab import GenericEmulator, need, spawn_generic

OPENAI_PRODUCTS: dict[str, str] = {  # product → a model id its /v1/models lists
    "vllm": "Qwen/Qwen2.5-1.5B-Instruct",
    "sglang": "meta-llama/Llama-3.1-8B-Instruct",
    "tgi": "HuggingFaceTB/SmolLM2-1.7B-Instruct",
    "lm-studio": "qwen/qwen3-4b-2507",
    "localai": "qwen3-8b",
    "text-generation-webui": "Qwen_Qwen3-8B-Q4_K_M.gguf",
    "koboldcpp": "koboldcpp/Mistral-Nemo-Instruct-2407-Q4_K_M",
    "xinference": "qwen2.5-instruct",
    "tabbyapi": "Qwen3-8B-exl3-4.0bpw",
    "llamafile": "Meta-Llama-3.1-8B-Instruct.Q4_K_M",
    "jan": "Jan-v1-4B-Q4_K_M",
    "aphrodite": "NousResearch/Meta-Llama-3.1-8B-Instruct",
    "nim": "meta/llama-3.1-8b-instruct",
    "openai-compatible": "acme-support-7b",
}
# keyed variants whose /v1/models stays public (the key guards generation only)
PUBLIC_MODELS_WHEN_KEYED = {"tgi", "koboldcpp"}
KEYED = [p for p in OPENAI_PRODUCTS if p not in ("llamafile", "nim", "openai-compatible")]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GenericEmulator]:
    sites = [(p, "open") for p in OPENAI_PRODUCTS]
    sites += [(p, "key") for p in KEYED] + [("gpustack", "key")]
    sites += [("qdrant", "open"), ("qdrant", "key"), ("weaviate", "open"), ("weaviate", "key")]
    sites += [("triton", "open"), ("triton", "key")]
    with spawn_generic(tmp_path_factory.mktemp("clients"), sites) as emu:
        yield emu


def _openai(base: str, key: str = "sk-none"):  # type: ignore[no-untyped-def]
    need("openai")
    import openai

    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=10)


@pytest.mark.parametrize("product", sorted(OPENAI_PRODUCTS))
def test_openai_client_lists_models(emulator: GenericEmulator, product: str) -> None:
    ids = [m.id for m in _openai(emulator.url(product)).models.list()]
    assert OPENAI_PRODUCTS[product] in ids


@pytest.mark.parametrize("product", sorted([*KEYED, "gpustack"]))
def test_openai_client_against_keyed_variants(emulator: GenericEmulator, product: str) -> None:
    import openai

    url = emulator.url(product, "key")
    if product in PUBLIC_MODELS_WHEN_KEYED:
        assert list(_openai(url).models.list())
    else:
        with pytest.raises((openai.AuthenticationError, openai.PermissionDeniedError)):
            list(_openai(url).models.list())
    assert [m.id for m in _openai(url, LAB_KEY).models.list()]


def test_qdrant_client(emulator: GenericEmulator) -> None:
    need("qdrant_client")
    from qdrant_client import QdrantClient
    from qdrant_client.http.exceptions import UnexpectedResponse

    client = QdrantClient(url=emulator.url("qdrant"), timeout=10)
    assert {c.name for c in client.get_collections().collections} == {"docs", "support_tickets"}
    assert client.collection_exists("docs")
    info = client.get_collection("docs")
    assert info.points_count == 1287 and info.config.params.vectors.size == 384  # type: ignore[union-attr]
    keyed = QdrantClient(url=emulator.url("qdrant", "key"), timeout=10)
    with pytest.raises(UnexpectedResponse) as refused:
        keyed.get_collections()
    assert refused.value.status_code == 401
    with pytest.warns(UserWarning, match="insecure"):
        good = QdrantClient(url=emulator.url("qdrant", "key"), api_key=LAB_KEY, timeout=10)
    assert len(good.get_collections().collections) == 2


def test_weaviate_client_rest_calls(emulator: GenericEmulator) -> None:
    need("weaviate")
    import weaviate
    from weaviate.exceptions import UnexpectedStatusCodeError

    def connect(variant: str, key: str | None = None):  # type: ignore[no-untyped-def]
        address, port = emulator.sites[("weaviate", variant)]
        return weaviate.connect_to_custom(
            http_host=address,
            http_port=port,
            http_secure=False,
            grpc_host=address,
            grpc_port=50051,  # not served: the emulator speaks REST only
            grpc_secure=False,
            skip_init_checks=True,
            auth_credentials=weaviate.auth.AuthApiKey(key) if key else None,
        )

    # is_live() also asks the gRPC health service, which the emulator does not serve
    with connect("open") as client:
        assert client.is_ready()
        assert client.get_meta()["version"] == "1.32.9"
        assert "Article" in client.collections.list_all(simple=True)
        assert client.collections.exists("Article")
        config = client.collections.get("Article").config.get()
        assert [p.name for p in config.properties] == ["title", "body"]
        assert [n.status for n in client.cluster.nodes()] == ["HEALTHY"]
    # the client reads /v1/meta while connecting: refused without the key
    with pytest.raises(UnexpectedStatusCodeError, match="anonymous access not enabled"):
        connect("key")
    with connect("key", LAB_KEY) as client:
        assert client.is_ready()
        assert client.get_meta()["hostname"] == "http://[::]:8080"


def test_tritonclient_http(emulator: GenericEmulator) -> None:
    need("tritonclient.http", "pip install tritonclient[http]")
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    address, port = emulator.sites[("triton", "open")]
    client = triton.InferenceServerClient(url=f"{address}:{port}")
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "triton" and "model_repository" in meta["extensions"]
    index = client.get_model_repository_index()
    assert {m["name"] for m in index} >= {"densenet_onnx", "bert_squad"}
    assert client.get_model_metadata("densenet_onnx")["platform"] == "onnxruntime_onnx"
    address, port = emulator.sites[("triton", "key")]
    keyed = triton.InferenceServerClient(url=f"{address}:{port}")
    assert keyed.is_server_live()  # health is not restricted
    with pytest.raises(InferenceServerException, match="This API is restricted"):
        keyed.get_model_repository_index()
    assert keyed.get_model_repository_index(headers={"admin-key": LAB_KEY})


def test_clients_sent_only_what_the_emulators_log(emulator: GenericEmulator) -> None:
    log = emulator.requests()
    assert log and all({"site", "method", "path", "status", "body"} <= set(e) for e in log)
    assert not [e for e in log if e["refused"]]
