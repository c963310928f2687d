import { MemorySessionStore } from "../../src/stores/memory.ts";
import { storeContract } from "./store_contract.ts";

storeContract("MemorySessionStore", () =>
  Promise.resolve({
    create: () => new MemorySessionStore(),
    close: () => Promise.resolve(),
  }));
