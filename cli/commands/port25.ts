import type { CommandModule } from "../command.js";
import { UserError } from "../errors.js";

const command: CommandModule = {
  command: "port25",
  describe: "not implemented yet",
  builder: (y) => y,
  handler: () => {
    throw new UserError("tun port25 is not implemented yet");
  },
};
export default command;
