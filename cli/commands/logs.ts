import type { CommandModule } from "../command.js";
import { UserError } from "../errors.js";

const command: CommandModule = {
  command: "logs",
  describe: "not implemented yet",
  builder: (y) => y,
  handler: () => {
    throw new UserError("tun logs is not implemented yet");
  },
};
export default command;
