import { MemorySessionStore } from "../../src/stores/memory.ts";
import { storeContract } from "./store_contract.ts";
import { valueContract } from "./value_contract.ts";

const harness = () =>
  Promise.resolve({
    create: () => new MemorySessionStore(),
    close: () => Promise.resolve(),
  });

storeContract("MemorySessionStore", harness);
valueContract("MemorySessionStore", harness);
